package org.tessera.engine.diffusion;

import java.util.Arrays;
import org.tessera.engine.parallel.WorkerPool;
import org.tessera.engine.random.RandomStream;
import org.tessera.engine.tensor.Tensor;

/**
 * Ancestral sampling (Ho et al. 2020, Algorithm 2): x_{t−1} = μ_θ(x_t, t) + σ_t z with
 * z ~ N(0, I), and no noise at t = 0. σ_t follows the diffusion's {@link VarianceType}.
 */
public final class DdpmSampler extends Sampler {
    /** 1 at every step: the coefficient of μ in x_{t−1} = 1·μ + σ_t z. */
    private final double[] one;
    /** σ_t = exp(½ log σ²_t) by step, for the fixed variance types. */
    private final double[] sigma;

    public DdpmSampler(GaussianDiffusion diffusion, X0Processing x0Processing, WorkerPool pool) {
        super(diffusion, x0Processing, pool);
        int steps = diffusion.steps();
        one = new double[steps];
        Arrays.fill(one, 1.0);
        sigma = new double[steps];
        if (diffusion.varianceType() != VarianceType.LEARNED_RANGE) {
            for (int s = 0; s < steps; s++) {
                sigma[s] = Math.exp(0.5 * diffusion.fixedLogVariance(s));
            }
        }
    }

    @Override
    protected String name() {
        return "DDPM";
    }

    @Override
    boolean needsLogVariance() {
        return diffusion.varianceType() == VarianceType.LEARNED_RANGE;
    }

    @Override
    void step(Tensor output, Workspace w, RandomStream noise) {
        Tensor mean = w.work;
        diffusion.pMeanVarianceInto(output, w.x, w.t, x0Processing, w.x0, mean, w.logVariance);
        if (w.t[0] == 0) {
            w.x.copyFrom(mean); // no noise at the last step
            return;
        }
        noise.fillNormal(w.noise, pool);
        if (w.logVariance == null) {
            diffusion.combine(one, mean, sigma, w.noise, w.t, w.x);
        } else {
            Tensor std = w.logVariance;
            Buffers.expInPlace(std, 0.5); // σ = exp(½ log σ²), per element
            diffusion.ops().mul(std, w.noise, w.noise);
            diffusion.ops().add(mean, w.noise, w.x);
        }
    }
}
