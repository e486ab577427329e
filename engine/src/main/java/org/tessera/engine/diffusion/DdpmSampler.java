package org.tessera.engine.diffusion;

import org.tessera.engine.parallel.WorkerPool;
import org.tessera.engine.random.RandomStream;
import org.tessera.engine.tensor.Tensor;

/**
 * Ancestral sampling (Ho et al. 2020, Algorithm 2): x_{t−1} = μ_θ(x_t, t) + σ_t z with
 * z ~ N(0, I), and no noise at t = 0. σ_t follows the diffusion's {@link VarianceType}.
 */
public final class DdpmSampler extends Sampler {
    public DdpmSampler(GaussianDiffusion diffusion, X0Processing x0Processing, WorkerPool pool) {
        super(diffusion, x0Processing, pool);
    }

    @Override
    protected String name() {
        return "DDPM";
    }

    @Override
    protected Tensor step(GaussianDiffusion.Prediction p, Tensor xt, int[] t, RandomStream noise) {
        if (t[0] == 0) {
            return p.mean().contiguous();
        }
        Tensor z = normal(xt.shape(), noise);
        float[] std = p.logVariance().toFloatArray();
        for (int i = 0; i < std.length; i++) {
            std[i] = (float) Math.exp(0.5 * std[i]); // σ = exp(½ log σ²)
        }
        Tensor sigma = Buffers.of(std, xt.shape());
        Tensor out = Buffers.zeros(xt.shape());
        diffusion.ops().mul(sigma, z, z);
        diffusion.ops().add(p.mean(), z, out);
        return out;
    }
}
