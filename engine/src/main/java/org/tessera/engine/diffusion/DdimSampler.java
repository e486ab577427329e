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

    public DdimSampler(GaussianDiffusion diffusion, double eta, X0Processing x0Processing, WorkerPool pool) {
        super(diffusion, x0Processing, pool);
        if (!(eta >= 0)) {
            throw new IllegalArgumentException("DDIM: eta = " + eta + " must be non-negative");
        }
        this.eta = eta;
    }

    @Override
    protected String name() {
        return "DDIM";
    }

    @Override
    protected Tensor step(GaussianDiffusion.Prediction p, Tensor xt, int[] t, RandomStream noise) {
        NoiseSchedule s = diffusion.schedule();
        Tensor eps = diffusion.epsFromX0(xt, t, p.predictedX0());
        double[] sigma = diffusion.perSample(t, k -> eta * Math.sqrt((1 - s.alphaBarPrev(k)) / (1 - s.alphaBar(k)))
                * Math.sqrt(1 - s.alphaBar(k) / s.alphaBarPrev(k)));
        double[] x0Coef = diffusion.perSample(t, k -> Math.sqrt(s.alphaBarPrev(k)));
        double[] epsCoef = new double[t.length];
        for (int b = 0; b < t.length; b++) {
            epsCoef[b] = Math.sqrt(Math.max(0, 1 - s.alphaBarPrev(t[b]) - sigma[b] * sigma[b]));
        }
        Tensor out = diffusion.combine(x0Coef, p.predictedX0(), epsCoef, eps);
        if (eta > 0 && t[0] != 0) {
            Tensor z = normal(xt.shape(), noise);
            double[] one = new double[t.length];
            Arrays.fill(one, 1.0);
            out = diffusion.combine(one, out, sigma, z);
        }
        return out;
    }
}
