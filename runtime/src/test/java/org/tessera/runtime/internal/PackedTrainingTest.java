package org.tessera.runtime.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.tessera.dsl.ModelDefinition;
import org.tessera.dsl.Script;
import org.tessera.engine.backend.Backend;
import org.tessera.engine.backend.Backends;
import org.tessera.engine.diffusion.GaussianDiffusion;
import org.tessera.engine.diffusion.Parameterization;
import org.tessera.engine.diffusion.Schedules;
import org.tessera.engine.diffusion.VarianceType;
import org.tessera.engine.io.WeightBinding;
import org.tessera.engine.io.WeightSource;
import org.tessera.engine.packing.Patches;
import org.tessera.engine.parallel.WorkerPool;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Tensor;
import org.tessera.engine.train.LearningRate;
import org.tessera.testing.TensorDifference;

/**
 * Patch n' Pack in training (issue 16, item 5): PackedDiT trained on examples packed per batch.
 * On examples of DiT's own square size it trains step for step as DiT does (the same draws, the
 * same loss, the same weights after AdamW); on a mix of sizes its loss falls, with and without
 * token dropping.
 */
class PackedTrainingTest {
    private static final String MODEL = "input_size = 8, patch_size = 2, in_channels = 1, hidden_size = 32,"
            + " depth = 2, num_heads = 2, num_classes = 3, learn_sigma = false";
    private static final int BATCH = 4;

    @TempDir
    Path dir;

    private ModelDefinition model(String name) throws Exception {
        Path script = Files.writeString(dir.resolve(name + ".tess"), """
                import "dit.tess"
                import "packed.tess"
                pipeline p {
                    model = %s(%s)
                    weights = random(seed = 0)
                    output "x.safetensors" = tensors(samples)
                }
                """.formatted(name, MODEL));
        return Script.load(script).pipeline(null, Map.of()).model("samples");
    }

    /** Random weights by key, with pos_embed DiT's sin-cos table (what PackedDiT computes per grid). */
    private static WeightSource weights(Backend cpu, List<Arena> arenas) {
        WeightSource random = WeightBinding.random(7, 0.05, cpu, arenas).source();
        Tensor table = Patches.sinCos2d(Patches.pack(List.of(Tensor.zeros(DType.F32, 1, 8, 8)), 1, 2, 16), 32);
        return (key, shape) -> key.equals("pos_embed") ? table.reshape(shape) : random.tensor(key, shape);
    }

    private static DiffusionTrainer.Settings settings() {
        return new DiffusionTrainer.Settings(BATCH, LearningRate.constant(3e-3, 2), 0.01, 1.0, 0.99, 0.25, 11);
    }

    private static GaussianDiffusion diffusion(Backend cpu) {
        return new GaussianDiffusion(
                Schedules.linear(1000), Parameterization.EPSILON, VarianceType.FIXED_LARGE, cpu.elementwise());
    }

    /** Images [B, 1, 8, 8] in [−1, 1] with a bright square whose place depends on the class. */
    private static Tensor data(long[] classes, SplittableRandom random) {
        float[] v = new float[BATCH * 64];
        java.util.Arrays.fill(v, -1f);
        for (int b = 0; b < BATCH; b++) {
            classes[b] = random.nextInt(3);
            int at = (int) classes[b] * 2;
            for (int y = at; y < at + 3; y++) {
                for (int x = 2; x < 5; x++) {
                    v[b * 64 + y * 8 + x] = 0.8f + 0.2f * (float) random.nextDouble();
                }
            }
        }
        return Tensor.of(v, BATCH, 1, 8, 8);
    }

    @Test
    void squareExamplesTrainStepForStepAsDiT() throws Exception {
        List<Arena> arenas = new ArrayList<>();
        try (WorkerPool pool = new WorkerPool(2)) {
            Backend cpu = Backends.cpu(pool, m -> {});
            DiffusionTrainer dit = new DiffusionTrainer(
                    model("DiT"),
                    new int[] {1, 8, 8},
                    diffusion(cpu),
                    weights(cpu, arenas),
                    key -> true,
                    cpu,
                    settings());
            PackedDiffusionTrainer packed = new PackedDiffusionTrainer(
                    model("PackedDiT"),
                    1,
                    List.of(new int[] {8, 8}),
                    0,
                    0,
                    diffusion(cpu),
                    weights(cpu, arenas),
                    key -> !key.equals("pos_embed"),
                    cpu,
                    settings());
            SplittableRandom random = new SplittableRandom(3);
            long[] classes = new long[BATCH];
            for (int step = 1; step <= 4; step++) {
                Tensor x0 = data(classes, random);
                double a = dit.step(x0, classes);
                double b = packed.step(x0, classes);
                assertEquals(a, b, 1e-5 * Math.max(1, Math.abs(a)), "the loss of step " + step);
            }
            for (Map.Entry<String, Tensor> w : packed.weights().entrySet()) {
                double worst = TensorDifference.maxAbs(dit.weights().get(w.getKey()), w.getValue());
                assertTrue(worst <= 1e-4, w.getKey() + " after 4 steps: max |difference| = " + worst);
            }
        } finally {
            arenas.forEach(Arena::close);
        }
    }

    /** With a quarter of the patches left out at random, too: the loss covers the kept ones. */
    @ParameterizedTest
    @ValueSource(doubles = {0, 0.25})
    void onAMixOfSizesTheLossFalls(double drop) throws Exception {
        List<Arena> arenas = new ArrayList<>();
        try (WorkerPool pool = new WorkerPool(2)) {
            Backend cpu = Backends.cpu(pool, m -> {});
            PackedDiffusionTrainer packed = new PackedDiffusionTrainer(
                    model("PackedDiT"),
                    1,
                    List.of(new int[] {8, 8}, new int[] {8, 12}, new int[] {12, 8}, new int[] {6, 8}),
                    40,
                    drop,
                    diffusion(cpu),
                    weights(cpu, arenas),
                    key -> true,
                    cpu,
                    settings());
            SplittableRandom random = new SplittableRandom(5);
            long[] classes = new long[BATCH];
            double first = 0;
            double last = 0;
            for (int step = 1; step <= 120; step++) {
                double loss = packed.step(data(classes, random), classes);
                if (step <= 20) {
                    first += loss / 20;
                } else if (step > 100) {
                    last += loss / 20;
                }
            }
            assertTrue(last < 0.6 * first, "mean loss of steps 1–20: " + first + ", of 101–120: " + last);
        } finally {
            arenas.forEach(Arena::close);
        }
    }

    @Test
    void placingCentresPadsAndCrops() {
        Tensor image = Tensor.of(new float[] {1, 2, 3, 4}, 1, 2, 2);
        assertArrayEquals(
                new float[] {-1, -1, -1, -1, -1, 1, 2, -1, -1, 3, 4, -1, -1, -1, -1, -1},
                PackedDiffusionTrainer.place(image, 4, 4).toFloatArray());
        assertArrayEquals(
                new float[] {1, 2}, PackedDiffusionTrainer.place(image, 1, 2).toFloatArray());
        assertArrayEquals(
                new float[] {-1, 1, 2, -1},
                PackedDiffusionTrainer.place(image, 1, 4).toFloatArray());
    }
}
