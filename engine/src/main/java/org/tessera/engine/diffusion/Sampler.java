package org.tessera.engine.diffusion;

import org.tessera.engine.parallel.WorkerPool;
import org.tessera.engine.random.RandomStream;
import org.tessera.engine.tensor.Tensor;

/**
 * The reverse loop shared by the samplers: from x_{T−1} down to x_0 over every step of the
 * diffusion's (possibly respaced) schedule, one model call per step.
 *
 * <p>Randomness is counter-based: x_{T−1} comes from stream 0 of the seed and the noise of step
 * t from stream t + 1, so a seed reproduces a run exactly on any thread count. After each step
 * the new sample is checked; a NaN or infinity stops sampling with a {@link SamplingException}
 * naming the step and the timestep.
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

    /**
     * One step: x_{t−1} from the reverse prediction at x_t, drawing noise (if any) from
     * {@code noise}.
     */
    protected abstract Tensor step(GaussianDiffusion.Prediction p, Tensor xt, int[] t, RandomStream noise);

    /** Samples a batch of {@code shape} starting from noise drawn from stream 0 of {@code seed}. */
    public Tensor sample(DenoisingModel model, int[] shape, Tensor conditioning, long seed, StepCallback callback) {
        Tensor xT = Buffers.zeros(shape);
        new RandomStream(seed, 0).fillNormal(xT, pool);
        return sample(model, xT, conditioning, seed, callback);
    }

    /** Samples starting from {@code xT} (not modified), step noise drawn from {@code seed}. */
    public Tensor sample(DenoisingModel model, Tensor xT, Tensor conditioning, long seed, StepCallback callback) {
        Buffers.checkBatch(name(), "x_T", xT);
        Tensor x = Buffers.zeros(xT.shape());
        x.copyFrom(xT);
        int total = diffusion.steps();
        for (int i = 0; i < total; i++) {
            int step = total - 1 - i;
            int[] t = VariationalBound.fill(x.size(0), step);
            GaussianDiffusion.Prediction p = diffusion.pMeanVariance(model, x, t, conditioning, x0Processing);
            x = step(p, x, t, new RandomStream(seed, step + 1L));
            int timestep = diffusion.schedule().modelTimestep(step);
            checkFinite(x, i, total, timestep);
            callback.onStep(i, total, timestep, x, p.predictedX0());
        }
        return x;
    }

    private void checkFinite(Tensor x, int i, int total, int timestep) {
        float[] v = x.toFloatArray();
        int bad = 0;
        int first = -1;
        for (int k = 0; k < v.length; k++) {
            if (!Float.isFinite(v[k])) {
                if (bad++ == 0) {
                    first = k;
                }
            }
        }
        if (bad > 0) {
            throw new SamplingException(name() + ": step " + i + " of " + total + " (timestep " + timestep + ") produced "
                    + bad + " non-finite values (first at element " + first + ": " + v[first] + ")", i, timestep);
        }
    }

    /** Fresh N(0, I) noise of {@code shape} from {@code noise}. */
    protected Tensor normal(int[] shape, RandomStream noise) {
        Tensor out = Buffers.zeros(shape);
        noise.fillNormal(out, pool);
        return out;
    }
}
