package org.tessera.runtime.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessera.dsl.ModelDefinition;
import org.tessera.dsl.Script;
import org.tessera.engine.backend.Backend;
import org.tessera.engine.backend.Backends;
import org.tessera.engine.diffusion.GaussianDiffusion;
import org.tessera.engine.diffusion.Parameterization;
import org.tessera.engine.diffusion.Schedules;
import org.tessera.engine.diffusion.VarianceType;
import org.tessera.engine.io.WeightBinding;
import org.tessera.engine.parallel.WorkerPool;
import org.tessera.engine.random.RandomStream;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Tensor;
import org.tessera.engine.train.LearningRate;

/** A tiny DiT trained with L_simple on two synthetic classes: the loss falls. */
class DiffusionTrainerTest {
    @TempDir
    Path dir;

    private static final int BATCH = 8;

    /** Class 0: a bright left half in channel 0; class 1: a dark top half in channel 1; small noise. */
    private static Tensor data(long[] classes, int round) {
        float[] v = new float[BATCH * 4 * 8 * 8];
        java.util.Random r = new java.util.Random(round);
        for (int b = 0; b < BATCH; b++) {
            for (int y = 0; y < 8; y++) {
                for (int x = 0; x < 8; x++) {
                    int base = b * 256 + y * 8 + x;
                    v[base] = classes[b] == 0 && x < 4 ? 0.8f : -0.2f;
                    v[base + 64] = classes[b] == 1 && y < 4 ? -0.8f : 0.2f;
                    for (int c = 0; c < 4; c++) {
                        v[base + 64 * c] += 0.05f * (float) r.nextGaussian();
                    }
                }
            }
        }
        return Tensor.of(v, BATCH, 4, 8, 8);
    }

    private DiffusionTrainer trainer(WorkerPool pool, List<Arena> arenas) throws Exception {
        return trainer(pool, arenas, Loss.SIMPLE);
    }

    /** L_simple (ε, the learned σ left alone), the hybrid loss (σ trained by the bound), flow matching. */
    private enum Loss {
        SIMPLE,
        HYBRID,
        FLOW
    }

    /** A tiny DiT trained as a diffusion (ε, learned σ) or as a rectified flow (velocity). */
    private DiffusionTrainer trainer(WorkerPool pool, List<Arena> arenas, Loss loss) throws Exception {
        return trainer(pool, arenas, loss, BATCH, 0);
    }

    private DiffusionTrainer trainer(WorkerPool pool, List<Arena> arenas, Loss loss, int batch, double snrGamma)
            throws Exception {
        boolean flow = loss == Loss.FLOW;
        Path script = dir.resolve("t.tess");
        Files.writeString(
                script,
                "import \"dit.tess\"\npipeline t {\n"
                        + "    model = DiT(input_size = 8, patch_size = 2, in_channels = 4, hidden_size = 32, depth = 2,"
                        + " num_heads = 2, num_classes = 2"
                        + (flow ? ", learn_sigma = false, predicts = \"flow\")\n    schedule = flow(1000)\n" : ")\n")
                        + "    weights = random(seed = 1)\n    output \"s.safetensors\" = tensors(samples)\n}\n");
        ModelDefinition model = Script.load(script).pipeline(null, Map.of()).model("samples");
        Backend cpu = Backends.cpu(pool, m -> {});
        GaussianDiffusion diffusion = new GaussianDiffusion(
                Schedules.linear(1000), Parameterization.EPSILON, VarianceType.LEARNED_RANGE, cpu.elementwise());
        return new DiffusionTrainer(
                model,
                new int[] {4, 8, 8},
                flow
                        ? new DiffusionTrainer.Flow(1000, 1.0)
                        : new DiffusionTrainer.Diffusion(diffusion, loss == Loss.HYBRID),
                WeightBinding.random(7, 0.02, cpu, arenas).source(),
                key -> true,
                cpu,
                new DiffusionTrainer.Settings(batch, LearningRate.constant(3e-3, 10), 0, 1.0, 0.99, 0.1, 11, snrGamma));
    }

    /**
     * Min-SNR-γ: an example's loss is its mean squared error times min(SNR, γ)/SNR for ε-prediction
     * (x₀-prediction min(SNR, γ), v-prediction min(SNR, γ)/(SNR + 1)); a γ above every level's SNR
     * changes nothing, bit for bit.
     */
    @Test
    void minSnrWeighsEachExampleByItsLevel() throws Exception {
        // SNR = ᾱ/(1 − ᾱ): ᾱ = 0.8 is SNR 4, ᾱ = 0.2 is SNR 0.25
        assertEquals(1.0, DiffusionTrainer.minSnrWeight(0.8, 5, Parameterization.EPSILON), 1e-12);
        assertEquals(1.0 / 4, DiffusionTrainer.minSnrWeight(0.8, 1, Parameterization.EPSILON), 1e-12);
        assertEquals(1.0, DiffusionTrainer.minSnrWeight(0.2, 1, Parameterization.EPSILON), 1e-12);
        assertEquals(1.0, DiffusionTrainer.minSnrWeight(0.8, 1, Parameterization.X0), 1e-12);
        assertEquals(0.25, DiffusionTrainer.minSnrWeight(0.2, 1, Parameterization.X0), 1e-12);
        assertEquals(1.0 / 5, DiffusionTrainer.minSnrWeight(0.8, 1, Parameterization.V), 1e-12);
        assertEquals(0.25 / 1.25, DiffusionTrainer.minSnrWeight(0.2, 1, Parameterization.V), 1e-12);
        List<Arena> arenas = Collections.synchronizedList(new ArrayList<>());
        try (WorkerPool pool = new WorkerPool(2)) {
            long[] classes = {0, 1, 0, 1, 1, 0, 0, 1};
            Tensor x = data(classes, 0);
            double plain = trainer(pool, arenas, Loss.SIMPLE, BATCH, 0).step(x, classes);
            double above = trainer(pool, arenas, Loss.SIMPLE, BATCH, 1e5).step(x, classes);
            assertEquals(plain, above, 0.0, "γ above every SNR (10⁴ at t = 0) weighs every example 1");
            // one example: the weighted loss is the plain one times its level's weight; γ is half
            // the SNR of the level the first step draws for it (RandomStream(seed 11, 3·step), step
            // 1), so that its weight is 1/2
            int t = Math.min(999, (int) (new RandomStream(11, 3).uniform(0) * 1000));
            double alphaBar = Schedules.linear(1000).alphaBar(t);
            double gamma = alphaBar / (1 - alphaBar) / 2;
            assertEquals(0.5, DiffusionTrainer.minSnrWeight(alphaBar, gamma, Parameterization.EPSILON), 1e-12);
            long[] one = {1};
            Tensor x1 = x.slice(0, 1, 2).contiguous();
            double single = trainer(pool, arenas, Loss.SIMPLE, 1, 0).step(x1, one);
            double weighted = trainer(pool, arenas, Loss.SIMPLE, 1, gamma).step(x1, one);
            assertEquals(single / 2, weighted, 1e-5 * single, "t = " + t);
        } finally {
            arenas.forEach(Arena::close);
        }
    }

    @Test
    void theSimpleLossFallsOnTwoClasses() throws Exception {
        lossFalls(Loss.SIMPLE);
    }

    @Test
    void theFlowMatchingLossFallsOnTwoClasses() throws Exception {
        lossFalls(Loss.FLOW);
    }

    @Test
    void theHybridLossFallsOnTwoClasses() throws Exception {
        lossFalls(Loss.HYBRID);
    }

    private void lossFalls(Loss kind) throws Exception {
        List<Arena> arenas = Collections.synchronizedList(new ArrayList<>());
        try (WorkerPool pool = new WorkerPool(2)) {
            DiffusionTrainer trainer = trainer(pool, arenas, kind);
            long[] classes = {0, 1, 0, 1, 1, 0, 0, 1};
            double[] losses = firstAndLastLosses(150, s -> trainer.step(data(classes, s), classes));
            double first = losses[0];
            double last = losses[1];
            System.out.printf(
                    java.util.Locale.ROOT,
                    "tiny DiT, %s loss: mean %.4f (steps 1-20) → %.4f (last 20)%n",
                    kind,
                    first,
                    last);
            assertTrue(last < first / 2, first + " → " + last);
        } finally {
            arenas.forEach(Arena::close);
        }
    }

    /**
     * A tiny Latte on clips [B, 3, 4, 8, 8] (each frame the two-class picture, shifted a pixel a
     * frame): the prediction and the learned variance are split on its channel axis, 2, and the
     * hybrid loss falls as it does for images.
     */
    @Test
    void aTinyLatteLearnsOnItsChannelAxisWithTheHybridLoss() throws Exception {
        List<Arena> arenas = Collections.synchronizedList(new ArrayList<>());
        try (WorkerPool pool = new WorkerPool(2)) {
            Path script = dir.resolve("train-latte.tess");
            Files.writeString(
                    script,
                    "import \"latte.tess\"\npipeline t {\n"
                            + "    model = Latte(input_size = 8, patch_size = 2, in_channels = 4, hidden_size = 32,"
                            + " depth = 2, num_heads = 2, num_frames = 3, num_classes = 2, extras = 2)\n"
                            + "    weights = random(seed = 1)\n    output \"s.safetensors\" = tensors(samples)\n}\n");
            ModelDefinition model = Script.load(script).pipeline(null, Map.of()).model("samples");
            Backend cpu = Backends.cpu(pool, m -> {});
            GaussianDiffusion diffusion = new GaussianDiffusion(
                    Schedules.linear(1000), Parameterization.EPSILON, VarianceType.LEARNED_RANGE, cpu.elementwise());
            DiffusionTrainer trainer = new DiffusionTrainer(
                    model,
                    new int[] {3, 4, 8, 8},
                    new DiffusionTrainer.Diffusion(diffusion, true),
                    WeightBinding.random(7, 0.02, cpu, arenas).source(),
                    key -> true,
                    cpu,
                    new DiffusionTrainer.Settings(BATCH, LearningRate.constant(3e-3, 10), 0, 1.0, 0.99, 0.1, 11, 0));
            long[] classes = {0, 1, 0, 1, 1, 0, 0, 1};
            double[] losses = firstAndLastLosses(120, s -> trainer.step(clips(data(classes, s)), classes));
            double first = losses[0];
            double last = losses[1];
            System.out.printf(
                    java.util.Locale.ROOT,
                    "tiny Latte, hybrid loss: mean %.4f (steps 1-20) → %.4f (last 20)%n",
                    first,
                    last);
            assertTrue(last < first / 2, first + " → " + last);
        } finally {
            arenas.forEach(Arena::close);
        }
    }

    /**
     * Video LDM's context frames: each example of a step is given its clip's first S frames, S
     * drawn from the settings' numbers, or (half of them here) its first and last frames, with the
     * mask over them; the context's embedding and its projections learn from the first steps.
     */
    @Test
    void aContextModelIsGivenTheFirstFramesOfItsClips() throws Exception {
        List<Arena> arenas = Collections.synchronizedList(new ArrayList<>());
        try (WorkerPool pool = new WorkerPool(2)) {
            Path script = dir.resolve("train-context.tess");
            Files.writeString(
                    script,
                    "import \"video.tess\"\npipeline t {\n"
                            + "    model = VideoLDMContextDiT(input_size = 8, patch_size = 2, in_channels = 4,"
                            + " hidden_size = 32, depth = 2, num_heads = 2, num_frames = 3, num_classes = 2,"
                            + " learn_sigma = false, predicts = \"v\")\n"
                            + "    weights = random(seed = 1)\n    output \"s.safetensors\" = tensors(samples)\n}\n");
            ModelDefinition model = Script.load(script).pipeline(null, Map.of()).model("samples");
            Backend cpu = Backends.cpu(pool, m -> {});
            GaussianDiffusion diffusion = new GaussianDiffusion(
                    Schedules.linear(1000), Parameterization.V, VarianceType.FIXED_LARGE, cpu.elementwise());
            DiffusionTrainer trainer = new DiffusionTrainer(
                    model,
                    new int[] {3, 4, 8, 8},
                    new DiffusionTrainer.Diffusion(diffusion),
                    WeightBinding.random(7, 0.02, cpu, arenas).source(), // every weight drawn, as a start
                    key -> true,
                    cpu,
                    new DiffusionTrainer.Settings(
                            BATCH, LearningRate.constant(3e-3, 1), 0, 1.0, 0.99, 0.1, 11, 0, new int[] {0, 2}, 0.5));
            long[] classes = {0, 1, 0, 1, 1, 0, 0, 1};
            Tensor x0 = clips(data(classes, 0));
            float[] embedBefore =
                    trainer.weights().get("context_embedder.proj.weight").toFloatArray();
            float[] projBefore = trainer.weights().get("context_proj.1.weight").toFloatArray();
            trainer.step(x0, classes);
            Tensor context = trainer.context(); // [8, 3, 5, 8, 8]
            int[] seen = new int[4]; // S = 0, 1, 2, and 3 for keyframes at both ends
            for (int b = 0; b < BATCH; b++) {
                boolean ends = context.getFloat(b, 2, 4, 0, 0) == 1f;
                int s = ends
                        ? 3
                        : context.getFloat(b, 0, 4, 0, 0) == 1f ? context.getFloat(b, 1, 4, 0, 0) == 1f ? 2 : 1 : 0;
                seen[s]++;
                for (int f = 0; f < 3; f++) {
                    boolean given = ends ? f != 1 : f < s;
                    for (int c = 0; c < 5; c++) {
                        for (int p = 0; p < 64; p++) {
                            float want = !given ? 0f : c == 4 ? 1f : x0.getFloat(b, f, c, p / 8, p % 8);
                            assertEquals(want, context.getFloat(b, f, c, p / 8, p % 8), "example " + b + ", S = " + s);
                        }
                    }
                }
            }
            assertEquals(0, seen[1], "S is drawn from {0, 2}");
            assertTrue(
                    seen[0] + seen[2] > 0 && seen[3] > 0,
                    "first frames and both ends, in a batch of 8: " + java.util.Arrays.toString(seen));
            assertTrue(
                    org.tessera.testing.TensorDifference.maxAbs(
                                    embedBefore,
                                    trainer.weights()
                                            .get("context_embedder.proj.weight")
                                            .toFloatArray())
                            > 0,
                    "the context's embedding trains");
            assertTrue(
                    org.tessera.testing.TensorDifference.maxAbs(
                                    projBefore,
                                    trainer.weights()
                                            .get("context_proj.1.weight")
                                            .toFloatArray())
                            > 0,
                    "and so does a temporal layer's projection of it");
        } finally {
            arenas.forEach(Arena::close);
        }
    }

    /** One training step's loss at step s. */
    private interface StepLoss {
        double at(int s) throws Exception;
    }

    /** The mean loss of the first 20 and of the last 20 of {@code steps} steps. */
    private static double[] firstAndLastLosses(int steps, StepLoss step) throws Exception {
        double first = 0;
        double last = 0;
        for (int s = 0; s < steps; s++) {
            double loss = step.at(s);
            if (s < 20) {
                first += loss / 20;
            } else if (s >= steps - 20) {
                last += loss / 20;
            }
        }
        return new double[] {first, last};
    }

    /** Clips [B, 3, 4, 8, 8] of the pictures: frame f is the picture rolled f pixels to the right. */
    private static Tensor clips(Tensor pictures) {
        Tensor clips = Tensor.zeros(DType.F32, BATCH, 3, 4, 8, 8);
        for (int f = 0; f < 3; f++) {
            for (int b = 0; b < BATCH; b++) {
                for (int c = 0; c < 4; c++) {
                    for (int y = 0; y < 8; y++) {
                        for (int x = 0; x < 8; x++) {
                            clips.setFloat(pictures.getFloat(b, c, y, (x + 8 - f) % 8), b, f, c, y, x);
                        }
                    }
                }
            }
        }
        return clips;
    }

    @Test
    void aResumedRunEqualsAnUninterruptedOneBitForBit() throws Exception {
        List<Arena> arenas = Collections.synchronizedList(new ArrayList<>());
        try (WorkerPool pool = new WorkerPool(2)) {
            long[] classes = {0, 1, 0, 1, 1, 0, 0, 1};
            DiffusionTrainer straight = trainer(pool, arenas);
            double[] lossesStraight = new double[8];
            for (int s = 0; s < 8; s++) {
                lossesStraight[s] = straight.step(data(classes, s), classes);
            }
            DiffusionTrainer first = trainer(pool, arenas);
            for (int s = 0; s < 4; s++) {
                first.step(data(classes, s), classes);
            }
            Path checkpoint = dir.resolve("ckpt.safetensors");
            first.save(checkpoint, Map.of("loss_curve", "0.9,0.5"));
            DiffusionTrainer resumed = trainer(pool, arenas); // a fresh process, as after Ctrl-C
            org.junit.jupiter.api.Assertions.assertEquals(
                    "0.9,0.5", resumed.restore(checkpoint).get("loss_curve"));
            org.junit.jupiter.api.Assertions.assertEquals(4, resumed.steps());
            for (int s = 4; s < 8; s++) {
                org.junit.jupiter.api.Assertions.assertEquals(
                        lossesStraight[s], resumed.step(data(classes, s), classes), "loss of step " + (s + 1));
            }
            for (String k : straight.weights().keySet()) {
                assertArrayEquals(
                        straight.weights().get(k).toFloatArray(),
                        resumed.weights().get(k).toFloatArray(),
                        k);
                assertArrayEquals(
                        straight.emaWeights().get(k).toFloatArray(),
                        resumed.emaWeights().get(k).toFloatArray(),
                        k);
            }
        } finally {
            arenas.forEach(Arena::close);
        }
    }

    @Test
    void twoRunsFromOneSeedAreIdentical() throws Exception {
        List<Arena> arenas = Collections.synchronizedList(new ArrayList<>());
        try (WorkerPool pool = new WorkerPool(2)) {
            long[] classes = {0, 1, 0, 1, 1, 0, 0, 1};
            DiffusionTrainer a = trainer(pool, arenas);
            DiffusionTrainer b = trainer(pool, arenas);
            for (int s = 0; s < 5; s++) {
                a.step(data(classes, s), classes);
                b.step(data(classes, s), classes);
            }
            for (String k : a.weights().keySet()) {
                assertArrayEquals(
                        a.weights().get(k).toFloatArray(), b.weights().get(k).toFloatArray(), k);
            }
        } finally {
            arenas.forEach(Arena::close);
        }
    }

    @Test
    void aFlowNoisesOnItsTrainingLevelsTowardsTheVelocity() {
        // Unshifted, the levels are those a 10-step flow schedule samples at, in rising order; shifted,
        // they are diffusers' training sigmas shift·s / (1 + (shift − 1)·s) of s = j/T (its sampling
        // levels shift a linspace of already shifted ones, so they differ).
        double[] sigmas =
                org.tessera.engine.diffusion.FlowSchedule.of(10, 10, 1.0).sigmas();
        DiffusionTrainer.Flow flow = new DiffusionTrainer.Flow(10, 3.0);
        for (int j = 0; j < 10; j++) {
            org.junit.jupiter.api.Assertions.assertEquals(
                    sigmas[9 - j], new DiffusionTrainer.Flow(10, 1.0).sigma(j), 1e-12, "level " + j);
            double s = (j + 1) / 10.0;
            org.junit.jupiter.api.Assertions.assertEquals(3 * s / (1 + 2 * s), flow.sigma(j), 1e-12, "level " + j);
        }
        Tensor x0 = Tensor.of(new float[] {1, -1, 0.5f, 0.25f}, 2, 2);
        Tensor eps = Tensor.of(new float[] {0.5f, 2, -1, 0}, 2, 2);
        Tensor xt = Tensor.zeros(org.tessera.engine.tensor.DType.F32, 2, 2);
        Tensor v = Tensor.zeros(org.tessera.engine.tensor.DType.F32, 2, 2);
        Tensor t = Tensor.zeros(org.tessera.engine.tensor.DType.F32, 2);
        flow.corrupt(x0, eps, new int[] {9, 4}, xt, v, t);
        float s1 = (float) flow.sigma(4);
        assertArrayEquals(new float[] {0.5f, 2, (1 - s1) * 0.5f - s1, (1 - s1) * 0.25f}, xt.toFloatArray(), 1e-6f);
        assertArrayEquals(new float[] {-0.5f, 3, -1.5f, -0.25f}, v.toFloatArray());
        assertArrayEquals(new float[] {10, s1 * 10}, t.toFloatArray(), 1e-5f);
    }

    @Test
    void theHybridLossTrainsTheVarianceChannelsWhichLSimpleLeavesAlone() throws Exception {
        List<Arena> arenas = Collections.synchronizedList(new ArrayList<>());
        try (WorkerPool pool = new WorkerPool(2)) {
            long[] classes = {0, 1, 0, 1, 1, 0, 0, 1};
            double[] first = new double[2];
            for (Loss loss : List.of(Loss.SIMPLE, Loss.HYBRID)) {
                DiffusionTrainer trainer = trainer(pool, arenas, loss);
                // final_layer.linear maps a token to p·p·2C features, (p q c) with c fastest: c ≥ 4 is σ
                float[] before =
                        trainer.weights().get("final_layer.linear.weight").toFloatArray();
                first[loss.ordinal()] = trainer.step(data(classes, 0), classes);
                for (int s = 1; s < 4; s++) {
                    trainer.step(data(classes, s), classes);
                }
                float[] after =
                        trainer.weights().get("final_layer.linear.weight").toFloatArray();
                int moved = 0;
                for (int i = 0; i < before.length; i++) {
                    int row = i / 32;
                    if (row % 8 >= 4 && before[i] != after[i]) {
                        moved++;
                    }
                }
                if (loss == Loss.SIMPLE) {
                    org.junit.jupiter.api.Assertions.assertEquals(0, moved, "L_simple moved σ's weights");
                } else {
                    assertTrue(moved > 16 * 32 / 2, moved + " of " + 16 * 32 + " of σ's weights moved");
                }
            }
            // the same draws and weights: the hybrid loss adds the bound's non-negative term
            assertTrue(first[1] > first[0], first[0] + " then " + first[1]);
        } finally {
            arenas.forEach(Arena::close);
        }
    }

    /**
     * What a warm step may allocate: nothing once the JIT has settled (0 bytes after a minute), with a margin for the objects of a round it is still compiling in. What it once
     * made: a batched matmul's per-batch views 56 KB, a record per element of the hybrid loss's
     * bound 268 KB, q_sample's per-sample views 3 KB, and 3 KB more in a gradient name built per
     * weight, a Philox block per draw, the attention check's operand array and the clipping's
     * iterators.
     */
    private static final int BYTES_PER_STEP = 256;

    private static final com.sun.management.ThreadMXBean THREADS =
            (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();

    private static long allocated() {
        return THREADS.getCurrentThreadAllocatedBytes();
    }

    /**
     * A warm step allocates nothing on the calling thread (which with a pool of one does all the
     * work): batches, noise, the graph's buffers and the views its kernels use, AdamW's moments and
     * the average are all made once. The best of several rounds of ten steps, since the JIT may
     * still be compiling (a round in which it recompiles a kernel runs the Vector API's
     * allocating fallback for a while).
     */
    @Test
    void aWarmStepAllocatesAlmostNothing() throws Exception {
        List<Arena> arenas = Collections.synchronizedList(new ArrayList<>());
        try (WorkerPool pool = new WorkerPool(1)) {
            long[] classes = {0, 1, 0, 1, 1, 0, 0, 1};
            Tensor x0 = data(classes, 0);
            for (Loss loss : Loss.values()) {
                DiffusionTrainer trainer = trainer(pool, arenas, loss);
                double best = Double.MAX_VALUE;
                long deadline = System.nanoTime() + 20_000_000_000L;
                while (best >= BYTES_PER_STEP && System.nanoTime() < deadline) {
                    for (int i = 0; i < 10; i++) {
                        trainer.step(x0, classes);
                    }
                    long before = allocated();
                    for (int i = 0; i < 10; i++) {
                        trainer.step(x0, classes);
                    }
                    best = Math.min(best, (allocated() - before) / 10.0);
                }
                System.out.printf(
                        java.util.Locale.ROOT, "tiny DiT, %s: %.0f bytes allocated per warm step%n", loss, best);
                assertTrue(best < BYTES_PER_STEP, loss + ": " + best + " bytes per step after warm-up");
            }
        } finally {
            arenas.forEach(Arena::close);
        }
    }
}
