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
import org.junit.jupiter.params.provider.CsvSource;
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
import org.tessera.engine.packing.TokenDropping;
import org.tessera.engine.parallel.WorkerPool;
import org.tessera.engine.random.RandomStream;
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
        return model(name, MODEL);
    }

    private ModelDefinition model(String name, String parameters) throws Exception {
        Path script = Files.writeString(dir.resolve(name + ".tess"), """
                import "dit.tess"
                import "packed.tess"
                pipeline p {
                    model = %s(%s)
                    weights = random(seed = 0)
                    output "x.safetensors" = tensors(samples)
                }
                """.formatted(name, parameters));
        return Script.load(script).pipeline(null, Map.of()).model("samples");
    }

    /** Random weights by key, with pos_embed DiT's sin-cos table (what PackedDiT computes per grid). */
    private static WeightSource weights(Backend cpu, List<Arena> arenas) {
        WeightSource random = WeightBinding.random(7, 0.05, cpu, arenas).source();
        Tensor table = Patches.sinCos2d(Patches.pack(List.of(Tensor.zeros(DType.F32, 1, 8, 8)), 1, 2, 16), 32);
        return (key, shape) -> key.equals("pos_embed") ? table.reshape(shape) : random.tensor(key, shape);
    }

    /** Random dropping at {@code rate} (the trainer keys it per step), or none. */
    private static TokenDropping dropping(double rate) {
        return rate == 0 ? TokenDropping.NONE : new TokenDropping.Random(rate, 0);
    }

    private static DiffusionTrainer.Settings settings() {
        return settings(0);
    }

    private static DiffusionTrainer.Settings settings(double snrGamma) {
        return new DiffusionTrainer.Settings(
                BATCH, LearningRate.constant(3e-3, 2), 0.01, 1.0, 0.99, 0.25, 11, snrGamma);
    }

    private static GaussianDiffusion diffusion(Backend cpu) {
        return diffusion(cpu, Parameterization.EPSILON);
    }

    private static GaussianDiffusion diffusion(Backend cpu, Parameterization parameterization) {
        return new GaussianDiffusion(
                Schedules.linear(1000), parameterization, VarianceType.FIXED_LARGE, cpu.elementwise());
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

    /**
     * Also under Min-SNR-γ weighting (γ = 1), which each trainer applies in its own way, and for
     * v-prediction, whose target each computes.
     */
    @ParameterizedTest
    @CsvSource({"0, eps", "1, eps", "1, v"})
    void squareExamplesTrainStepForStepAsDiT(double snrGamma, String predicts) throws Exception {
        List<Arena> arenas = new ArrayList<>();
        try (WorkerPool pool = new WorkerPool(2)) {
            Backend cpu = Backends.cpu(pool, m -> {});
            DiffusionTrainer dit = new DiffusionTrainer(
                    model("DiT", MODEL + ", predicts = \"" + predicts + "\""),
                    new int[] {1, 8, 8},
                    diffusion(cpu, predicts.equals("v") ? Parameterization.V : Parameterization.EPSILON),
                    weights(cpu, arenas),
                    key -> true,
                    cpu,
                    settings(snrGamma));
            PackedDiffusionTrainer packed = new PackedDiffusionTrainer(
                    model("PackedDiT", MODEL + ", predicts = \"" + predicts + "\""),
                    1,
                    List.of(new int[] {8, 8}),
                    0,
                    TokenDropping.NONE,
                    diffusion(cpu, predicts.equals("v") ? Parameterization.V : Parameterization.EPSILON),
                    weights(cpu, arenas),
                    key -> !key.equals("pos_embed"),
                    cpu,
                    settings(snrGamma));
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
                    dropping(drop),
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

    /**
     * The loss is the mean over examples of each one's mean squared error over its kept patches,
     * whatever their sizes, the patches dropped and the empty rows that round the row count up.
     * With the final layer at zero (adaLN-Zero's start) the prediction is 0, so the first step's
     * loss is (1/E)·Σ_e mean(ε_e²), recomputed here from the trainer's documented draws. Two
     * channels and a learned variance make the layouts count: the model embeds (c, y, x), predicts
     * (p, q, c') and only the first C of its 2C channels are trained.
     */
    @ParameterizedTest
    @ValueSource(doubles = {0, 0.25})
    void theLossIsTheMeanOfEachExamplesOwn(double drop) throws Exception {
        int batch = 9; // rows rounded to multiples of 2
        long seed = 11;
        List<int[]> sizes = List.of(new int[] {8, 8}, new int[] {4, 12}, new int[] {12, 6});
        List<Arena> arenas = new ArrayList<>();
        try (WorkerPool pool = new WorkerPool(2)) {
            Backend cpu = Backends.cpu(pool, m -> {});
            WeightSource random = weights(cpu, arenas);
            WeightSource zeroFinal = (key, shape) ->
                    key.startsWith("final_layer.linear") ? Tensor.zeros(DType.F32, shape) : random.tensor(key, shape);
            PackedDiffusionTrainer packed = new PackedDiffusionTrainer(
                    model(
                            "PackedDiT",
                            MODEL.replace("in_channels = 1", "in_channels = 2")
                                    .replace("learn_sigma = false", "learn_sigma = true")),
                    2,
                    sizes,
                    36,
                    dropping(drop),
                    diffusion(cpu),
                    zeroFinal,
                    key -> true,
                    cpu,
                    new DiffusionTrainer.Settings(batch, LearningRate.constant(1e-3, 1), 0, 1.0, 0.99, 0, seed, 0));
            double loss = packed.step(Tensor.zeros(DType.F32, batch, 2, 8, 8), new long[batch]);

            // the trainer's draws for step 1: sizes from stream 3·1 + 2, the noise of the examples
            // in order from stream 3·1 + 1, the dropped patches keyed by seed + 1·2⁶⁴/φ
            RandomStream sizeDraws = new RandomStream(seed, 5);
            List<Tensor> noise = new ArrayList<>();
            int total = 0;
            int[][] drawn = new int[batch][];
            for (int i = 0; i < batch; i++) {
                drawn[i] = sizes.get(Math.min(sizes.size() - 1, (int) (sizeDraws.uniform(i) * sizes.size())));
                total += 2 * drawn[i][0] * drawn[i][1];
            }
            Tensor all = Tensor.zeros(DType.F32, total);
            new RandomStream(seed, 4).fillNormal(all, pool);
            int offset = 0;
            for (int[] s : drawn) {
                int n = 2 * s[0] * s[1];
                noise.add(all.slice(0, offset, offset + n).reshape(2, s[0], s[1]));
                offset += n;
            }
            // ε is the target here: the loss is the mean of each example's ε² over its kept patches
            double[] expected = meanSquares(
                    noise,
                    36,
                    drop == 0 ? TokenDropping.NONE : new TokenDropping.Random(drop, seed + 0x9E3779B97F4A7C15L));
            assertEquals(expected[0], loss, 1e-5 * expected[0], "step 1's loss");
            long packedTokens = (long) expected[1];
            long allTokens = (long) expected[2];
            assertEquals(drop > 0, packedTokens < allTokens, packedTokens + " of " + allTokens + " patches packed");
        } finally {
            arenas.forEach(Arena::close);
        }
    }

    /**
     * Clips and frames in one batch: from data of clips [B, 4, 1, 8, 8], sizes of 4 and 2 frames
     * (taken at the strides 1 and 2, the second cropped to 6 columns) and single frames (one drawn
     * per example) pack together, and the first step's loss is the mean of each example's own over
     * its kept patches — with similarity dropping too, which leaves out the patches of the still
     * background and keeps those the moving square passes through. The examples are cut here
     * from the data by hand; the draws are the trainer's documented ones.
     */
    @ParameterizedTest
    @ValueSource(doubles = {0, 0.95})
    void clipsAndFramesTrainTogether(double similarity) throws Exception {
        int batch = 6;
        long seed = 13;
        List<int[]> sizes = List.of(new int[] {4, 8, 8}, new int[] {2, 8, 6}, new int[] {8, 8});
        float[] v = new float[batch * 4 * 64];
        java.util.Arrays.fill(v, -1f);
        for (int b = 0; b < batch; b++) { // a bright square moving a pixel right each frame
            for (int f = 0; f < 4; f++) {
                for (int y = b % 3 * 2; y < b % 3 * 2 + 3; y++) {
                    for (int x = f + 1; x < f + 4; x++) {
                        v[((b * 4 + f) * 8 + y) * 8 + x] = 0.9f;
                    }
                }
            }
        }
        Tensor x0 = Tensor.of(v, batch, 4, 1, 8, 8);
        List<Arena> arenas = new ArrayList<>();
        try (WorkerPool pool = new WorkerPool(2)) {
            Backend cpu = Backends.cpu(pool, m -> {});
            TokenDropping dropping = similarity == 0 ? TokenDropping.NONE : new TokenDropping.Similar(similarity);
            PackedDiffusionTrainer packed = rotaryTrainer(sizes, dropping, batch, seed, cpu, arenas);
            double loss = packed.step(x0, new long[batch]);

            RandomStream sizeDraws = new RandomStream(seed, 5);
            List<Tensor> examples = new ArrayList<>();
            for (int i = 0; i < batch; i++) {
                int[] s = sizes.get(Math.min(2, (int) (sizeDraws.uniform(i) * 3)));
                int frames = s.length == 3 ? s[0] : 1;
                int w = s[s.length - 1];
                float[] e = new float[frames * 8 * w];
                for (int f = 0; f < frames; f++) {
                    int source =
                            s.length == 3 ? f * (4 / frames) : Math.min(3, (int) (sizeDraws.uniform(batch + i) * 4));
                    for (int y = 0; y < 8; y++) {
                        for (int x = 0; x < w; x++) { // 8 columns centred on w: cropped by (8 − w)/2
                            e[(f * 8 + y) * w + x] = v[((i * 4 + source) * 8 + y) * 8 + x + (8 - w) / 2];
                        }
                    }
                }
                examples.add(s.length == 3 ? Tensor.of(e, 1, frames, 8, w) : Tensor.of(e, 1, 8, w));
            }
            double[] expected = meanSquares(examples, 64, dropping);
            assertEquals(expected[0], loss, 1e-5 * expected[0], "step 1's loss");
            assertEquals(
                    similarity > 0, expected[1] < expected[2], expected[1] + " of " + expected[2] + " patches packed");
        } finally {
            arenas.forEach(Arena::close);
        }
    }

    /**
     * A PackedDiT with rotary (t, h, w) positions, one channel and its final layer at zero, trained
     * towards x₀ (so that the first step's loss is the data's: {@link #meanSquares}), in rows of 64
     * tokens.
     */
    private PackedDiffusionTrainer rotaryTrainer(
            List<int[]> sizes, TokenDropping dropping, int batch, long seed, Backend cpu, List<Arena> arenas)
            throws Exception {
        WeightSource random = weights(cpu, arenas);
        WeightSource zeroFinal = (key, shape) ->
                key.startsWith("final_layer.linear") ? Tensor.zeros(DType.F32, shape) : random.tensor(key, shape);
        return new PackedDiffusionTrainer(
                model("PackedDiT", MODEL + ", positions = \"rope\", rope_sections = [4, 6, 6]"),
                1,
                sizes,
                64,
                dropping,
                new GaussianDiffusion(
                        Schedules.linear(1000), Parameterization.X0, VarianceType.FIXED_LARGE, cpu.elementwise()),
                zeroFinal,
                key -> true,
                cpu,
                new DiffusionTrainer.Settings(batch, LearningRate.constant(1e-3, 1), 0, 1.0, 0.99, 0, seed, 0));
    }

    /**
     * (1/E)·Σ_e mean of v² over e's kept patches (patch 2), for the examples {@code values}: step 1's
     * loss with the final layer at zero, v being the target (the data under x₀, the noise under ε).
     * With the data as the target it reads the data, so a wrong frame, stride, crop or size
     * changes it. Returns it with the patches packed and all the patches.
     */
    private static double[] meanSquares(List<Tensor> examples, int rowLength, TokenDropping dropping) {
        Patches.Packed kept = Patches.pack(examples, 1, 2, rowLength, dropping);
        int dim = examples.getFirst().size(0) * 4; // C·p·p values a patch holds
        float[] v = kept.tokens().toFloatArray();
        long[] segments = kept.segments().toLongArray();
        int batch = examples.size();
        double[] sum = new double[batch];
        int[] tokens = new int[batch];
        for (int token = 0; token < segments.length; token++) {
            int e = (int) segments[token];
            if (e >= 0) {
                tokens[e]++;
                for (int i = 0; i < dim; i++) {
                    sum[e] += (double) v[token * dim + i] * v[token * dim + i];
                }
            }
        }
        double expected = 0;
        long packedTokens = 0;
        long allTokens = 0;
        for (int e = 0; e < batch; e++) {
            expected += sum[e] / ((double) tokens[e] * dim) / batch;
            packedTokens += tokens[e];
            allTokens += examples.get(e).numel() / dim;
        }
        return new double[] {expected, packedTokens, allTokens};
    }

    /**
     * Images and clips of their own sizes in one batch, as a mix(...) of data sets gives them:
     * images [1, 8, 8] draw among the [H, W] sizes only, clips [4, 1, 8, 8] among all, and the
     * first step's loss is each example's own mean, as for one data set.
     */
    @Test
    void imagesAndClipsFromTwoDataSetsTrainTogether() throws Exception {
        int batch = 6;
        long seed = 17;
        List<int[]> sizes = List.of(new int[] {4, 8, 8}, new int[] {8, 8}, new int[] {8, 6});
        List<int[]> imageSizes = List.of(sizes.get(1), sizes.get(2));
        SplittableRandom random = new SplittableRandom(2);
        List<Tensor> batchExamples = new ArrayList<>();
        for (int i = 0; i < batch; i++) { // images at even places, clips at odd ones
            float[] v = new float[(i % 2 == 0 ? 1 : 4) * 64];
            for (int k = 0; k < v.length; k++) {
                v[k] = (float) random.nextGaussian();
            }
            batchExamples.add(i % 2 == 0 ? Tensor.of(v, 1, 8, 8) : Tensor.of(v, 4, 1, 8, 8));
        }
        List<Arena> arenas = new ArrayList<>();
        try (WorkerPool pool = new WorkerPool(2)) {
            Backend cpu = Backends.cpu(pool, m -> {});
            PackedDiffusionTrainer packed = rotaryTrainer(sizes, TokenDropping.NONE, batch, seed, cpu, arenas);
            double loss = packed.step(batchExamples, new long[batch]);

            RandomStream sizeDraws = new RandomStream(seed, 5);
            List<Tensor> placed = new ArrayList<>();
            for (int i = 0; i < batch; i++) {
                Tensor x = batchExamples.get(i);
                List<int[]> fits = x.rank() == 4 ? sizes : imageSizes;
                int[] s = fits.get(Math.min(fits.size() - 1, (int) (sizeDraws.uniform(i) * fits.size())));
                if (x.rank() == 4 && s.length == 2) {
                    x = x.select(0, Math.min(3, (int) (sizeDraws.uniform(batch + i) * 4)));
                }
                placed.add(
                        s.length == 3
                                ? x.permute(1, 0, 2, 3).contiguous() // [F, C, H, W] → [C, F, H, W], all 4 frames
                                : PackedDiffusionTrainer.place(x, s[0], s[1]));
            }
            double[] expected = meanSquares(placed, 64, TokenDropping.NONE);
            assertEquals(expected[0], loss, 1e-5 * expected[0], "step 1's loss");
        } finally {
            arenas.forEach(Arena::close);
        }
    }

    /** A clip [F, C, H, W] becomes [C, F', H, W], frames at the stride: with two channels, so the layout shows. */
    @Test
    void placingAClipTakesItsFramesAtAStrideChannelsFirst() {
        float[] v = new float[4 * 2 * 2 * 2];
        for (int i = 0; i < v.length; i++) {
            v[i] = i;
        }
        Tensor clip = Tensor.of(v, 4, 2, 2, 2); // [F, C, H, W]
        float[] want = new float[2 * 2 * 2 * 2];
        for (int c = 0; c < 2; c++) {
            for (int f = 0; f < 2; f++) {
                for (int q = 0; q < 4; q++) { // frames 0 and 2 (stride 4/2)
                    want[(c * 2 + f) * 4 + q] = v[((f * 2) * 2 + c) * 4 + q];
                }
            }
        }
        Tensor placed = PackedDiffusionTrainer.placeClip(clip, 2, 2, 2);
        assertArrayEquals(new int[] {2, 2, 2, 2}, placed.shape());
        assertArrayEquals(want, placed.toFloatArray());
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
