package org.tessera.engine.diffusion;

import java.util.HashMap;
import java.util.Map;
import org.tessera.engine.tensor.Tensor;

/**
 * The exact denoiser for data x_0 ~ N(μ, σ²) in every dimension. With a = √ᾱ_t, b = √(1−ᾱ_t),
 * x_t ~ N(aμ, s²), s² = a²σ² + b², and
 *
 * <pre>
 *   E[ε | x_t]     = b (x_t − aμ) / s²
 *   Var[x_0 | x_t] = σ² b² / s²
 *   q(x_{t−1} | x_t) = N(c1 E[x_0 | x_t] + c2 x_t, β̃_t + c1² Var[x_0 | x_t])
 * </pre>
 *
 * The reverse conditionals of a Gaussian chain are Gaussian, so a model that outputs this ε and
 * (for learned variance) this variance is the true reverse process of {@code schedule}.
 */
final class ExactGaussianModel implements DenoisingModel {
    private final NoiseSchedule schedule;
    private final double mu;
    private final double sigma;
    private final boolean learnedRange;
    private final Map<Long, Integer> indexOf = new HashMap<>();

    ExactGaussianModel(NoiseSchedule schedule, double mu, double sigma, boolean learnedRange) {
        this.schedule = schedule;
        this.mu = mu;
        this.sigma = sigma;
        this.learnedRange = learnedRange;
        for (int i = 0; i < schedule.steps(); i++) {
            indexOf.put((long) schedule.modelTimestep(i), i);
        }
    }

    @Override
    public Tensor predict(Tensor xt, Tensor timesteps, Tensor conditioning) {
        int[] shape = xt.shape();
        int batch = shape[0];
        int channels = shape[1];
        int per = (int) (xt.numel() / batch);
        int spatial = per / channels;
        float[] x = xt.toFloatArray();
        long[] ts = timesteps.toLongArray();
        int outChannels = learnedRange ? 2 * channels : channels;
        float[] out = new float[batch * outChannels * spatial];
        for (int b = 0; b < batch; b++) {
            int i = indexOf.get(ts[b]);
            double abar = schedule.alphaBar(i);
            double a = Math.sqrt(abar);
            double s2 = abar * sigma * sigma + (1 - abar);
            double bb = Math.sqrt(1 - abar);
            double trueVar = schedule.posteriorVariance(i)
                    + Math.pow(schedule.posteriorMeanCoef1(i), 2) * sigma * sigma * (1 - abar) / s2;
            double minLog = schedule.posteriorLogVarianceClipped(i);
            double maxLog = Math.log(schedule.beta(i));
            double v = 2 * (Math.log(trueVar) - minLog) / (maxLog - minLog) - 1;
            for (int k = 0; k < per; k++) {
                int c = k / spatial;
                int p = k % spatial;
                out[(b * outChannels + c) * spatial + p] = (float) (bb * (x[b * per + k] - a * mu) / s2);
                if (learnedRange) {
                    out[(b * outChannels + channels + c) * spatial + p] = (float) v;
                }
            }
        }
        int[] outShape = shape.clone();
        outShape[1] = outChannels;
        return Tensor.of(out, outShape);
    }
}
