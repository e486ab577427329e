package org.tessera.engine.diffusion;

import java.lang.foreign.Arena;
import java.util.Arrays;
import org.tessera.engine.parallel.WorkerPool;
import org.tessera.engine.random.RandomStream;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Tensor;

/**
 * The reverse loop shared by the samplers: from x_{T−1} down to x_0 over every step of the
 * diffusion's (possibly respaced) schedule, one model call per step.
 *
 * <p>Randomness is counter-based: x_{T−1} comes from stream 0 of the seed and the noise of step
 * t from stream t + 1, so a seed reproduces a run exactly on any thread count. After each step
 * the new sample is checked; a NaN or infinity stops sampling with a {@link SamplingException}
 * naming the step and the timestep.
 *
 * <p>Memory: {@link #sampleInto} allocates its work buffers (x̂_0, one more batch-shaped
 * buffer, the noise, the model's timesteps) once per run, sized from x_T, in a shared arena it
 * closes when the run ends, and updates the caller's output in place; the steps themselves
 * allocate no tensors. The model's output is read within the step that produced it and never
 * kept across two model calls, so a model may return a buffer it reuses (see
 * {@link DenoisingModel}). The {@code sample} methods return a garbage-collected tensor the
 * caller keeps.
 */
public abstract sealed class Sampler permits DdpmSampler, DdimSampler {
    protected final GaussianDiffusion diffusion;
    protected final X0Processing x0Processing;
    protected final WorkerPool pool;

    protected Sampler(GaussianDiffusion diffusion, X0Processing x0Processing, WorkerPool pool) {
        this.diffusion = diffusion;
        this.x0Processing = x0Processing;
        this.pool = pool;
    }

    /** Short name used in messages. */
    protected abstract String name();

    /** Whether {@link #step} needs {@link Workspace#logVariance}. */
    abstract boolean needsLogVariance();

    /**
     * One step: x_{t−1} from the model's {@code output} at (w.x, w.t), written over {@code w.x},
     * drawing noise (if any) from {@code noise} into {@code w.noise}. Allocates no tensors.
     */
    abstract void step(Tensor output, Workspace w, RandomStream noise);

    /**
     * The buffers of one run. {@code x} is the caller's output, updated in place from x_T to
     * x_0; the rest live in the run's arena and have x's shape unless noted.
     */
    static final class Workspace {
        /** The steps of the current iteration, one per sample (all equal). */
        final int[] t;
        /** The original timesteps the model sees: I64 [B]. */
        final Tensor timesteps;

        final Tensor x;
        /** x̂_0 of the current step, as processed. */
        final Tensor x0;
        /** The sampler's second buffer: the posterior mean (DDPM) or ε̂ (DDIM). */
        final Tensor work;
        /** z ~ N(0, I) of the current step. */
        final Tensor noise;
        /** The per-element log variance (then σ), or null if the sampler does not need it. */
        final Tensor logVariance;

        Workspace(Arena arena, Tensor x, boolean logVariance) {
            int[] shape = x.shape();
            this.t = new int[shape[0]];
            this.timesteps = Tensor.zeros(arena, DType.I64, shape[0]);
            this.x = x;
            this.x0 = Tensor.zeros(arena, DType.F32, shape);
            this.work = Tensor.zeros(arena, DType.F32, shape);
            this.noise = Tensor.zeros(arena, DType.F32, shape);
            this.logVariance = logVariance ? Tensor.zeros(arena, DType.F32, shape) : null;
        }
    }

    /**
     * Samples a batch of {@code shape} starting from noise drawn from stream 0 of {@code seed}.
     * The result is a new garbage-collected tensor.
     */
    public Tensor sample(DenoisingModel model, int[] shape, Tensor conditioning, long seed, StepCallback callback) {
        Tensor x = Buffers.zeros(shape);
        new RandomStream(seed, 0).fillNormal(x, pool);
        sampleInto(model, x, conditioning, seed, callback, x);
        return x;
    }

    /**
     * Samples starting from {@code xT} (not modified), step noise drawn from {@code seed}. The
     * result is a new garbage-collected tensor.
     */
    public Tensor sample(DenoisingModel model, Tensor xT, Tensor conditioning, long seed, StepCallback callback) {
        Buffers.checkBatch(name(), "x_T", xT);
        Tensor out = Buffers.zeros(xT.shape());
        sampleInto(model, xT, conditioning, seed, callback, out);
        return out;
    }

    /**
     * Samples starting from {@code xT} into {@code out}, a contiguous F32 tensor of x_T's shape
     * that the caller owns (allocate it in the caller's arena to keep the result): {@code out}
     * holds x_t during the run and x_0 at its end. {@code out} may be {@code xT} itself, to
     * sample in place; otherwise it must not overlap it. Work buffers are allocated once here and
     * freed before returning; no step allocates a tensor.
     */
    public void sampleInto(
            DenoisingModel model, Tensor xT, Tensor conditioning, long seed, StepCallback callback, Tensor out) {
        Buffers.checkBatch(name(), "x_T", xT);
        Buffers.checkDestination(name(), "out", out, xT);
        if (out != xT) {
            out.copyFrom(xT);
        }
        int total = diffusion.steps();
        // Shared: the pool's workers read and write these buffers.
        try (Arena arena = Arena.ofShared()) {
            Workspace w = new Workspace(arena, out, needsLogVariance());
            for (int i = 0; i < total; i++) {
                int step = total - 1 - i;
                Arrays.fill(w.t, step);
                int timestep = diffusion.schedule().modelTimestep(step);
                // The model's output is consumed by step() before the next model call.
                Tensor output = diffusion.modelOutput(model, w.x, w.t, conditioning, w.timesteps);
                step(output, w, new RandomStream(seed, step + 1L));
                checkFinite(w.x, i, total, timestep);
                callback.onStep(i, total, timestep, w.x, w.x0);
            }
        }
    }

    private void checkFinite(Tensor x, int i, int total, int timestep) {
        SamplingException.checkFinite(name(), x, i, total, timestep);
    }
}
