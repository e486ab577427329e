package org.tessera.engine.diffusion;

import org.tessera.engine.tensor.ShapeMismatchException;
import org.tessera.engine.tensor.Shapes;
import org.tessera.engine.tensor.Tensor;

/**
 * The per-element terms of the variational bound, in double (DiT's {@code diffusion_utils.py}):
 * the KL divergence between diagonal Gaussians and the discretised Gaussian log-likelihood of
 * 8-bit data scaled to [−1, 1]. Inputs may be any views of one shape (broadcasts included).
 */
public final class GaussianTerms {
    /** Half the width of one of the 256 bins of 8-bit data scaled to [−1, 1]. */
    static final double HALF_BIN = 1.0 / 255.0;
    /** Floor inside the logarithms, so an empty bin costs a finite 27.6 nats. */
    private static final double LOG_FLOOR = 1e-12;

    private GaussianTerms() {}

    /**
     * KL(N(μ1, e^{lv1}) ‖ N(μ2, e^{lv2})) per element:
     * ½ (−1 + lv2 − lv1 + e^{lv1 − lv2} + (μ1 − μ2)² e^{−lv2}).
     */
    public static double[] normalKl(Tensor mean1, Tensor logVar1, Tensor mean2, Tensor logVar2) {
        same("normalKl", mean1, logVar1, mean2, logVar2);
        double[] m1 = mean1.toDoubleArray();
        double[] l1 = logVar1.toDoubleArray();
        double[] m2 = mean2.toDoubleArray();
        double[] l2 = logVar2.toDoubleArray();
        double[] out = new double[m1.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = normalKl(m1[i], l1[i], m2[i], l2[i]);
        }
        return out;
    }

    /** The scalar KL of {@link #normalKl(Tensor, Tensor, Tensor, Tensor)}. */
    public static double normalKl(double mean1, double logVar1, double mean2, double logVar2) {
        double d = mean1 - mean2;
        return 0.5 * (-1.0 + logVar2 - logVar1 + Math.exp(logVar1 - logVar2) + d * d * Math.exp(-logVar2));
    }

    /**
     * ∂/∂lv2 of {@link #normalKl(double, double, double, double)}: ½ (1 − e^{lv1 − lv2} − (μ1 − μ2)² e^{−lv2}),
     * the gradient a learned variance gets from a term of the bound.
     */
    public static double normalKlByLogVar2(double mean1, double logVar1, double mean2, double logVar2) {
        double d = mean1 - mean2;
        return 0.5 * (1.0 - Math.exp(logVar1 - logVar2) - d * d * Math.exp(-logVar2));
    }

    /**
     * log P(x) per element, where P is N(mean, e^{2·logScale}) integrated over x's bin
     * [x − 1/255, x + 1/255]; the outermost bins extend to ±∞ (x below −0.999 or above 0.999).
     * Uses the tanh approximation of the normal CDF, as the reference does.
     */
    public static double[] discretizedLogLikelihood(Tensor x, Tensor means, Tensor logScales) {
        same("discretizedLogLikelihood", x, means, logScales, x);
        double[] xv = x.toDoubleArray();
        double[] mv = means.toDoubleArray();
        double[] sv = logScales.toDoubleArray();
        double[] out = new double[xv.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = discretizedLogLikelihood(xv[i], mv[i], sv[i]);
        }
        return out;
    }

    /** The scalar form of {@link #discretizedLogLikelihood(Tensor, Tensor, Tensor)}. */
    public static double discretizedLogLikelihood(double x, double mean, double logScale) {
        double centered = x - mean;
        double invStd = Math.exp(-logScale);
        double cdfPlus = approxStandardNormalCdf(invStd * (centered + HALF_BIN));
        double cdfMin = approxStandardNormalCdf(invStd * (centered - HALF_BIN));
        if (x < -0.999) {
            return Math.log(Math.max(cdfPlus, LOG_FLOOR));
        }
        if (x > 0.999) {
            return Math.log(Math.max(1.0 - cdfMin, LOG_FLOOR));
        }
        return Math.log(Math.max(cdfPlus - cdfMin, LOG_FLOOR));
    }

    /**
     * ∂/∂logScale of {@link #discretizedLogLikelihood(double, double, double)}. With z = e^{−s}·u the
     * bin edges' standardised values, ∂z/∂s = −z, so ∂P/∂s = φ(z₋)·z₋ − φ(z₊)·z₊ (φ the derivative
     * of the approximate Φ), the one-sided bins keeping their one edge, and ∂ log P/∂s = (∂P/∂s)/P.
     * Where the floor holds P up, log P does not move: 0.
     */
    public static double discretizedLogLikelihoodByLogScale(double x, double mean, double logScale) {
        double centered = x - mean;
        double invStd = Math.exp(-logScale);
        double zPlus = invStd * (centered + HALF_BIN);
        double zMin = invStd * (centered - HALF_BIN);
        double p;
        double dp;
        if (x < -0.999) {
            p = approxStandardNormalCdf(zPlus);
            dp = -approxStandardNormalPdf(zPlus) * zPlus;
        } else if (x > 0.999) {
            p = 1.0 - approxStandardNormalCdf(zMin);
            dp = approxStandardNormalPdf(zMin) * zMin;
        } else {
            p = approxStandardNormalCdf(zPlus) - approxStandardNormalCdf(zMin);
            dp = approxStandardNormalPdf(zMin) * zMin - approxStandardNormalPdf(zPlus) * zPlus;
        }
        return p < LOG_FLOOR ? 0.0 : dp / p;
    }

    /** dΦ/dx of the approximate Φ: ½ (1 − tanh²(u)) · √(2/π) (1 + 3·0.044715 x²), u its tanh's argument. */
    public static double approxStandardNormalPdf(double x) {
        double k = Math.sqrt(2.0 / Math.PI);
        double th = Math.tanh(k * (x + 0.044715 * x * x * x));
        return 0.5 * (1.0 - th * th) * k * (1.0 + 3 * 0.044715 * x * x);
    }

    /** Φ(x) ≈ ½ (1 + tanh(√(2/π) (x + 0.044715 x³))), the approximation the reference uses. */
    public static double approxStandardNormalCdf(double x) {
        return 0.5 * (1.0 + Math.tanh(Math.sqrt(2.0 / Math.PI) * (x + 0.044715 * x * x * x)));
    }

    private static void same(String op, Tensor a, Tensor b, Tensor c, Tensor d) {
        if (!a.sameShape(b) || !a.sameShape(c) || !a.sameShape(d)) {
            throw new ShapeMismatchException(
                    op + ": shapes " + Shapes.toString(a.shape()) + ", " + Shapes.toString(b.shape()) + ", "
                            + Shapes.toString(c.shape()) + " and " + Shapes.toString(d.shape()) + " differ");
        }
    }
}
