package org.tessera.engine.diffusion;

import java.util.Arrays;
import org.tessera.engine.parallel.WorkerPool;
import org.tessera.engine.random.RandomStream;
import org.tessera.engine.tensor.Tensor;

/**
 * DDIM (Song et al. 2021, eq. 12), as DiT's {@code ddim_sample}:
 *
 * <pre>
 *   ε̂ = (x_t − √ᾱ_t x̂_0) / √(1 − ᾱ_t)
 *   σ_t = η √((1 − ᾱ_{t−1}) / (1 − ᾱ_t)) √(1 − ᾱ_t / ᾱ_{t−1})
 *   x_{t−1} = √ᾱ_{t−1} x̂_0 + √(1 − ᾱ_{t−1} − σ_t²) ε̂ + σ_t z
 * </pre>
 *
 * η = 0 is deterministic (the probability-flow discretisation); η = 1 has DDPM's posterior
 * variance. Run it on a respaced schedule to sample in few steps.
 */
public final class DdimSampler extends Sampler {
    private final double eta;
    // The step's coefficients by step index, computed once in double.
    private final double[] sigma; // σ_t
    private final double[] x0Coef; // √ᾱ_{t−1}
    private final double[] epsCoef; // √(1 − ᾱ_{t−1} − σ_t²)
    private final double[] one; // 1

    public DdimSampler(GaussianDiffusion diffusion, double eta, X0Processing x0Processing, WorkerPool pool) {
        super(diffusion, x0Processing, pool);
        if (!(eta >= 0)) {
            throw new IllegalArgumentException("DDIM: eta = " + eta + " must be non-negative");
        }
        this.eta = eta;
        NoiseSchedule s = diffusion.schedule();
        int steps = s.steps();
        sigma = new double[steps];
        x0Coef = new double[steps];
        epsCoef = new double[steps];
        one = new double[steps];
        Arrays.fill(one, 1.0);
        for (int k = 0; k < steps; k++) {
            sigma[k] = eta
                    * Math.sqrt((1 - s.alphaBarPrev(k)) / (1 - s.alphaBar(k)))
                    * Math.sqrt(1 - s.alphaBar(k) / s.alphaBarPrev(k));
            x0Coef[k] = Math.sqrt(s.alphaBarPrev(k));
            epsCoef[k] = Math.sqrt(Math.max(0, 1 - s.alphaBarPrev(k) - sigma[k] * sigma[k]));
        }
    }

    @Override
    protected String name() {
        return "DDIM";
    }

    @Override
    boolean needsLogVariance() {
        return false;
    }

    @Override
    void step(Tensor output, Workspace w, RandomStream noise) {
        Tensor eps = w.work;
        diffusion.pMeanVarianceInto(output, w.x, w.t, x0Processing, w.x0, null, null);
        diffusion.epsFromX0Into(w.x, w.t, w.x0, eps);
        // x_t is no longer needed: x_{t−1} overwrites it.
        diffusion.combine(x0Coef, w.x0, epsCoef, eps, w.t, w.x);
        if (eta > 0 && w.t[0] != 0) {
            noise.fillNormal(w.noise, pool);
            diffusion.combine(one, w.x, sigma, w.noise, w.t, w.x);
        }
    }
}
