package org.tessera.engine.diffusion;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.foreign.Arena;
import java.lang.management.BufferPoolMXBean;
import java.lang.management.ManagementFactory;
import java.util.Arrays;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.tessera.engine.backend.ElementwiseOps;
import org.tessera.engine.parallel.WorkerPool;
import org.tessera.engine.random.RandomStream;
import org.tessera.engine.reference.ScalarElementwise;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.ShapeMismatchException;
import org.tessera.engine.tensor.Tensor;

/**
 * The sampling loop allocates no tensors per step. With a model and ops that allocate nothing
 * themselves, 50 steps on a [2, 4, 8, 8] latent allocate on average less heap per step than one
 * latent's floats (2 KiB), and no garbage-collected native storage at all. Reusing buffers
 * changes no result: the allocation-free setup samples bit for bit what the allocating one does.
 */
class SamplerAllocationTest {
    /** One thread: every kernel and every fill runs on the measured thread. */
    private static final WorkerPool POOL = new WorkerPool(1);

    private static final int[] LATENT = {2, 4, 8, 8};
    private static final double MU = 0.3;
    private static final double SIGMA = 0.5;
    /** Native memory of garbage-collected arenas (and direct buffers), all threads. */
    private static final BufferPoolMXBean GC_NATIVE =
            ManagementFactory.getPlatformMXBeans(BufferPoolMXBean.class).stream()
                    .filter(b -> b.getName().equals("direct"))
                    .findFirst()
                    .orElseThrow();
    /** Average heap bytes per step that a run may allocate: less than one latent's floats. */
    private static final double BOUND_PER_STEP = 2048;

    @AfterAll
    static void close() {
        POOL.close();
    }

    // ---------------------------------------------------------------- allocation

    @Test
    void ddimStepsAllocateNoTensors() {
        NoiseSchedule s = Respacing.respace(Schedules.linear(1000), "ddim50");
        GaussianDiffusion d =
                new GaussianDiffusion(s, Parameterization.EPSILON, VarianceType.FIXED_SMALL, new DirectOps());
        // η > 0 so that every step also draws noise.
        assertAllocationPerStep(new DdimSampler(d, 0.5, X0Processing.none(), POOL), new AnalyticModel(s, false), null);
    }

    @Test
    void ddpmStepsAllocateNoTensors() {
        NoiseSchedule s = Respacing.respace(Schedules.linear(1000), "50");
        GaussianDiffusion d =
                new GaussianDiffusion(s, Parameterization.EPSILON, VarianceType.LEARNED_RANGE, new DirectOps());
        assertAllocationPerStep(new DdpmSampler(d, X0Processing.clip(), POOL), new AnalyticModel(s, true), null);
        GaussianDiffusion fixed =
                new GaussianDiffusion(s, Parameterization.EPSILON, VarianceType.FIXED_LARGE, new DirectOps());
        assertAllocationPerStep(
                new DdpmSampler(fixed, X0Processing.dynamicThreshold(0.9, 2), POOL), new AnalyticModel(s, false), null);
    }

    @Test
    void guidedStepsAllocateNoTensors() {
        NoiseSchedule s = Respacing.respace(Schedules.linear(1000), "ddim50");
        DirectOps ops = new DirectOps();
        Tensor labels = Tensor.ofLongs(Arena.ofAuto(), new long[] {3, 7}, 2);
        Tensor nullLabel = Tensor.ofLongs(Arena.ofAuto(), new long[] {1000}, 1);
        for (VarianceType v : new VarianceType[] {VarianceType.FIXED_SMALL, VarianceType.LEARNED_RANGE}) {
            GaussianDiffusion d = new GaussianDiffusion(s, Parameterization.EPSILON, v, ops);
            for (ClassifierFreeGuidance.Channels channels : ClassifierFreeGuidance.Channels.values()) {
                DenoisingModel guided = new ClassifierFreeGuidance(
                        new AnalyticModel(s, v == VarianceType.LEARNED_RANGE), 4.0, nullLabel, channels, ops);
                assertAllocationPerStep(new DdimSampler(d, 0.0, X0Processing.clip(), POOL), guided, labels);
            }
        }
    }

    /** Runs 50 steps three times to warm up, then measures a fourth run. */
    private static void assertAllocationPerStep(Sampler sampler, DenoisingModel model, Tensor conditioning) {
        com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        assumeTrue(mx.isThreadAllocatedMemorySupported(), "this JVM cannot count allocated bytes per thread");
        mx.setThreadAllocatedMemoryEnabled(true);
        Tensor xT = Tensor.zeros(DType.F32, LATENT);
        new RandomStream(5, 0).fillNormal(xT, POOL);
        Tensor out = Tensor.zeros(DType.F32, LATENT);
        int steps = sampler.diffusion.steps();
        assertEquals(50, steps);
        long[] atStep = new long[steps];
        long[] nativeAtStep = new long[steps];
        StepCallback record = (step, total, timestep, x, x0) -> {
            atStep[step] = mx.getCurrentThreadAllocatedBytes();
            nativeAtStep[step] = GC_NATIVE.getTotalCapacity();
        };
        for (int warmUp = 0; warmUp < 3; warmUp++) {
            sampler.sampleInto(model, xT, conditioning, 9, record, out);
        }
        long before = mx.getCurrentThreadAllocatedBytes();
        sampler.sampleInto(model, xT, conditioning, 9, record, out);
        long after = mx.getCurrentThreadAllocatedBytes();
        double perStep = (after - before) / (double) steps; // the run's buffers included
        double perLoopStep = (atStep[steps - 1] - atStep[0]) / (double) (steps - 1); // steps alone
        String what = sampler.name() + " " + sampler.diffusion.varianceType() + " "
                + sampler.x0Processing.getClass().getSimpleName()
                + (conditioning == null ? "" : " guided") + ": " + perStep + " B/step over the run, " + perLoopStep
                + " B/step in the loop";
        assertTrue(perStep < BOUND_PER_STEP, what);
        assertTrue(perLoopStep < BOUND_PER_STEP, what);
        // Heap bytes undercount a tensor: its storage is native. Storage freed by the garbage collector
        // (Arena.ofAuto) is reserved in the "direct" pool, so a step that allocated a garbage-collected
        // tensor would grow it (a collection during the loop can only shrink it).
        long nativeGrowth = nativeAtStep[steps - 1] - nativeAtStep[0];
        assertTrue(
                nativeGrowth <= 0,
                what + "; garbage-collected native memory grew by " + nativeGrowth + " B in the loop");
        assertEquals(0, Buffers.countNonFinite(out), what);
    }

    // ---------------------------------------------------------------- same results as the allocating path

    @Test
    void reusedBuffersSampleExactlyWhatFreshTensorsDo() {
        NoiseSchedule s = Respacing.respace(Schedules.linear(1000), "ddim25");
        ScalarElementwise reference = new ScalarElementwise();
        DirectOps direct = new DirectOps();
        for (VarianceType v : VarianceType.values()) {
            boolean learned = v == VarianceType.LEARNED_RANGE;
            GaussianDiffusion slow = new GaussianDiffusion(s, Parameterization.EPSILON, v, reference);
            GaussianDiffusion fast = new GaussianDiffusion(s, Parameterization.EPSILON, v, direct);
            Sampler[][] pairs = {
                {
                    new DdimSampler(slow, 0.7, X0Processing.clip(), POOL),
                    new DdimSampler(fast, 0.7, X0Processing.clip(), POOL)
                },
                {new DdpmSampler(slow, X0Processing.none(), POOL), new DdpmSampler(fast, X0Processing.none(), POOL)}
            };
            for (Sampler[] pair : pairs) {
                // The reference allocates a fresh output per call; the analytic model reuses one buffer.
                float[] want = pair[0].sample(
                                new ExactGaussianModel(s, MU, SIGMA, learned), LATENT, null, 21, StepCallback.NONE)
                        .toFloatArray();
                Tensor xT = Tensor.zeros(DType.F32, LATENT);
                new RandomStream(21, 0).fillNormal(xT, POOL);
                pair[1].sampleInto(new AnalyticModel(s, learned), xT, null, 21, StepCallback.NONE, xT); // in place
                assertArrayEquals(want, xT.toFloatArray(), pair[0].name() + " " + v);
            }
        }
    }

    @Test
    void guidanceReusesItsBuffersWithoutChangingResults() {
        NoiseSchedule s = Respacing.respace(Schedules.linear(1000), "ddim10");
        ScalarElementwise ops = new ScalarElementwise();
        GaussianDiffusion d = new GaussianDiffusion(s, Parameterization.EPSILON, VarianceType.LEARNED_RANGE, ops);
        Tensor labels = Tensor.ofLongs(Arena.ofAuto(), new long[] {3, 7}, 2);
        Tensor nullLabel = Tensor.ofLongs(Arena.ofAuto(), new long[] {1000}, 1);
        // Guidance of a model that ignores its labels leaves ε unchanged (s·ε + (1 − s)·ε = ε, up to rounding).
        DdimSampler sampler = new DdimSampler(d, 0.0, X0Processing.none(), POOL);
        DenoisingModel exact = new ExactGaussianModel(s, MU, SIGMA, true);
        float[] plain =
                sampler.sample(exact, LATENT, null, 4, StepCallback.NONE).toFloatArray();
        ClassifierFreeGuidance fresh =
                new ClassifierFreeGuidance(exact, 3.0, nullLabel, ClassifierFreeGuidance.Channels.DIT_FIRST_THREE, ops);
        ClassifierFreeGuidance owned = new ClassifierFreeGuidance(
                new AnalyticModel(s, true), 3.0, nullLabel, ClassifierFreeGuidance.Channels.DIT_FIRST_THREE, ops);
        float[] a = sampler.sample(fresh, LATENT, labels, 4, StepCallback.NONE).toFloatArray();
        float[] b = sampler.sample(owned, LATENT, labels, 4, StepCallback.NONE).toFloatArray();
        assertArrayEquals(a, b);
        for (int i = 0; i < plain.length; i++) {
            assertEquals(plain[i], a[i], 1e-4, "element " + i);
        }
        // A second run, and then a batch of another size, through the same wrapper.
        assertArrayEquals(
                b, sampler.sample(owned, LATENT, labels, 4, StepCallback.NONE).toFloatArray());
        Tensor one = Tensor.ofLongs(Arena.ofAuto(), new long[] {3}, 1);
        float[] single = sampler.sample(owned, new int[] {1, 4, 8, 8}, one, 4, StepCallback.NONE)
                .toFloatArray();
        float[] singleFresh = sampler.sample(fresh, new int[] {1, 4, 8, 8}, one, 4, StepCallback.NONE)
                .toFloatArray();
        assertArrayEquals(singleFresh, single);
    }

    @Test
    void destinationsAreChecked() {
        NoiseSchedule s = Respacing.respace(Schedules.linear(1000), "ddim10");
        GaussianDiffusion d =
                new GaussianDiffusion(s, Parameterization.EPSILON, VarianceType.FIXED_SMALL, new ScalarElementwise());
        Tensor x = Tensor.zeros(DType.F32, LATENT);
        Tensor strided = Tensor.zeros(DType.F32, 2, 8, 8, 4).permute(0, 3, 1, 2);
        ShapeMismatchException e =
                assertThrows(ShapeMismatchException.class, () -> d.x0FromEpsInto(x, new int[] {1, 1}, x, strided));
        assertTrue(
                e.getMessage().contains("x0FromEps")
                        && e.getMessage().contains("[2, 4, 8, 8]")
                        && e.getMessage().contains("strided"),
                e.getMessage());
        DdimSampler sampler = new DdimSampler(d, 0.0, X0Processing.none(), POOL);
        e = assertThrows(
                ShapeMismatchException.class,
                () -> sampler.sampleInto(
                        new AnalyticModel(s, false), x, null, 1, StepCallback.NONE, Tensor.zeros(DType.F32, 2, 4, 8)));
        assertTrue(e.getMessage().contains("DDIM") && e.getMessage().contains("out"), e.getMessage());
    }

    // ---------------------------------------------------------------- allocation-free test doubles

    /**
     * {@link ExactGaussianModel}'s formulas, computed identically, into one output buffer it owns
     * and returns on every call (valid until the next, as {@link DenoisingModel} allows).
     */
    private static final class AnalyticModel implements DenoisingModel {
        private final NoiseSchedule schedule;
        private final boolean learnedRange;
        /** Original timestep → step index. */
        private final int[] indexOf;

        private Tensor out;

        AnalyticModel(NoiseSchedule schedule, boolean learnedRange) {
            this.schedule = schedule;
            this.learnedRange = learnedRange;
            int[] map = schedule.timestepMap();
            indexOf = new int[Arrays.stream(map).max().orElseThrow() + 1];
            for (int i = 0; i < map.length; i++) {
                indexOf[map[i]] = i;
            }
        }

        @Override
        public Tensor predict(Tensor xt, Tensor timesteps, Tensor conditioning) {
            int batch = xt.size(0);
            int channels = xt.size(1);
            int per = (int) (xt.numel() / batch);
            int spatial = per / channels;
            int outChannels = learnedRange ? 2 * channels : channels;
            if (out == null
                    || out.size(0) != batch
                    || out.size(1) != outChannels
                    || out.numel() != (long) batch * outChannels * spatial) {
                int[] shape = xt.shape();
                shape[1] = outChannels;
                out = Tensor.zeros(DType.F32, shape);
            }
            for (int b = 0; b < batch; b++) {
                int i = indexOf[(int) timesteps.floatAt(b)];
                double abar = schedule.alphaBar(i);
                double a = Math.sqrt(abar);
                double s2 = abar * SIGMA * SIGMA + (1 - abar);
                double bb = Math.sqrt(1 - abar);
                double trueVar = schedule.posteriorVariance(i)
                        + Math.pow(schedule.posteriorMeanCoef1(i), 2) * SIGMA * SIGMA * (1 - abar) / s2;
                double minLog = schedule.posteriorLogVarianceClipped(i);
                double maxLog = Math.log(schedule.beta(i));
                double v = 2 * (Math.log(trueVar) - minLog) / (maxLog - minLog) - 1;
                for (int k = 0; k < per; k++) {
                    int c = k / spatial;
                    int p = k % spatial;
                    float x = xt.floatAt((long) b * per + k);
                    Buffers.set(out, (long) (b * outChannels + c) * spatial + p, (float) (bb * (x - a * MU) / s2));
                    if (learnedRange) {
                        Buffers.set(out, (long) (b * outChannels + channels + c) * spatial + p, (float) v);
                    }
                }
            }
            return out;
        }
    }

    /**
     * The pointwise ops the samplers use, same-shape only, computed like {@link ScalarElementwise}
     * (in double, rounded once) but reading and writing in place, so they allocate nothing.
     */
    private static final class DirectOps implements ElementwiseOps {
        private interface Op {
            double apply(double x, double y);
        }

        private static final Op ADD = (x, y) -> x + y;
        private static final Op SUB = (x, y) -> x - y;
        private static final Op MUL = (x, y) -> x * y;
        private static final Op DIV = (x, y) -> x / y;

        @Override
        public void clamp(Tensor x, float lo, float hi, Tensor out) {
            throw new UnsupportedOperationException("the samplers do not clamp");
        }

        @Override
        public void add(Tensor a, Tensor b, Tensor out) {
            apply(1, a, 1, b, out, ADD);
        }

        @Override
        public void sub(Tensor a, Tensor b, Tensor out) {
            apply(1, a, 1, b, out, SUB);
        }

        @Override
        public void mul(Tensor a, Tensor b, Tensor out) {
            apply(1, a, 1, b, out, MUL);
        }

        @Override
        public void div(Tensor a, Tensor b, Tensor out) {
            apply(1, a, 1, b, out, DIV);
        }

        @Override
        public void axpby(float alpha, Tensor x, float beta, Tensor y, Tensor out) {
            apply(alpha, x, beta, y, out, ADD);
        }

        /** out = op(α·a, β·b) per element; out may alias a or b (each element is read before it is written). */
        private static void apply(double alpha, Tensor a, double beta, Tensor b, Tensor out, Op op) {
            if (!a.sameShape(b) || !a.sameShape(out) || !out.isContiguous() || out.dtype() != DType.F32) {
                throw new ShapeMismatchException(
                        "DirectOps: same shapes and a contiguous f32 output only, got " + a + ", " + b + " and " + out);
            }
            long n = out.numel();
            for (long i = 0; i < n; i++) {
                Buffers.set(out, i, (float) op.apply(alpha * a.floatAt(i), beta * b.floatAt(i)));
            }
        }

        @Override
        public void gelu(Tensor x, Tensor out) {
            throw new UnsupportedOperationException("gelu");
        }

        @Override
        public void silu(Tensor x, Tensor out) {
            throw new UnsupportedOperationException("silu");
        }

        @Override
        public void modulate(Tensor x, Tensor shift, Tensor scale, Tensor out) {
            throw new UnsupportedOperationException("modulate");
        }
    }
}
