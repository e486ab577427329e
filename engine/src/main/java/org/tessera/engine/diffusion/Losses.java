package org.tessera.engine.diffusion;

import org.tessera.engine.backend.ElementwiseOps;
import org.tessera.engine.tensor.Tensor;

/**
 * Training losses at given timesteps (the caller draws t and the noise):
 *
 * <ul>
 *   <li>L_simple = ‖target − model‖² averaged per sample, where the target is ε, x_0 or v
 *       according to the {@link Parameterization} (Ho et al. 2020, eq. 14);
 *   <li>for {@link VarianceType#LEARNED_RANGE}, the hybrid L_simple + L_vlb (Nichol &amp;
 *       Dhariwal 2021): L_vlb is the bound's term L_t with the model's mean treated as a
 *       constant, so L_vlb trains only the variance. DiT's {@code RESCALED_MSE} (its default,
 *       {@code rescale_learned_sigmas}) scales it by T/1000; improved-diffusion's plain
 *       {@code MSE} loss type does not: {@link VbScale} chooses.
 * </ul>
 *
 * <p>The engine computes values, not gradients: "treated as a constant" (the reference's
 * {@code detach}) does not change the value, and is stated here for whoever differentiates it.
 */
public final class Losses {
    /** Per-sample terms: the MSE, the (scaled) VLB term (0 for fixed variances) and their sum. */
    public record Terms(double[] mse, double[] vlb, double[] loss) {}

    /** How the VLB term of the hybrid loss is weighted. */
    public enum VbScale {
        /** × T/1000: DiT's {@code LossType.RESCALED_MSE}, its default. */
        RESCALED,
        /** × 1: {@code LossType.MSE} with a learned variance (improved-diffusion's hybrid loss). */
        NONE
    }

    private final GaussianDiffusion diffusion;
    private final VariationalBound bound;
    private final VbScale vbScale;

    /** The hybrid loss as DiT trains it ({@link VbScale#RESCALED}). */
    public Losses(GaussianDiffusion diffusion) {
        this(diffusion, VbScale.RESCALED);
    }

    public Losses(GaussianDiffusion diffusion, VbScale vbScale) {
        this.diffusion = diffusion;
        this.bound = new VariationalBound(diffusion);
        this.vbScale = java.util.Objects.requireNonNull(vbScale, "vbScale");
    }

    /** The loss of {@code model} on x_0 at steps {@code t} with the given noise. */
    public Terms trainingLoss(DenoisingModel model, Tensor x0, int[] t, Tensor noise, Tensor conditioning) {
        Tensor xt = diffusion.qSample(x0, t, noise);
        Tensor output = diffusion.modelOutput(model, xt, t, conditioning);
        int axis = GaussianDiffusion.channelAxis(x0, output);
        Tensor prediction = output.slice(axis, 0, x0.size(axis));
        double[] mse = meanSquaredError(diffusion.ops(), prediction, diffusion.target(x0, t, noise));
        double[] vlb = new double[mse.length];
        if (diffusion.varianceType() == VarianceType.LEARNED_RANGE) {
            // Frozen mean: the bound sees the same output, with no clipping of x̂_0 (as the reference).
            GaussianDiffusion.Prediction p = diffusion.pMeanVariance(output, xt, t, X0Processing.none());
            double[] term = bound.term(p, x0, xt, t).bitsPerDim();
            double scale = vbScale == VbScale.RESCALED ? diffusion.steps() / 1000.0 : 1.0;
            for (int b = 0; b < vlb.length; b++) {
                vlb[b] = term[b] * scale;
            }
        }
        double[] loss = new double[mse.length];
        for (int b = 0; b < loss.length; b++) {
            loss[b] = mse[b] + vlb[b];
        }
        return new Terms(mse, vlb, loss);
    }

    /** ‖a − b‖² / n per sample of a batch [B, …], the differences and squares through {@code ops}. */
    public static double[] meanSquaredError(ElementwiseOps ops, Tensor a, Tensor b) {
        Tensor d = Buffers.zeros(a.shape());
        ops.sub(a, b, d);
        ops.mul(d, d, d);
        return Buffers.meanFlat(d.toDoubleArray(), a.size(0));
    }
}
