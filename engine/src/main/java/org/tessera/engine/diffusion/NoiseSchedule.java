package org.tessera.engine.diffusion;

import java.util.Arrays;

/**
 * A discrete diffusion process x_0 → x_1 → … → x_{T−1}, given by its variances β_t, with every
 * derived array of Ho et al. (2020) computed once, in double precision, exactly as
 * facebookresearch/DiT's {@code GaussianDiffusion.__init__} does:
 *
 * <pre>
 *   α_t = 1 − β_t                ᾱ_t = ∏_{s≤t} α_s      ᾱ_{−1} = 1
 *   posterior variance  β̃_t = β_t (1 − ᾱ_{t−1}) / (1 − ᾱ_t)
 *   clipped log β̃: log β̃_t, with entry 0 (where β̃_0 = 0) replaced by log β̃_1
 *   posterior mean coefficients  c1_t = β_t √ᾱ_{t−1} / (1 − ᾱ_t),  c2_t = (1 − ᾱ_{t−1}) √α_t / (1 − ᾱ_t)
 * </pre>
 *
 * <p>A schedule may be a respaced subset of a longer one ({@link Respacing}); then
 * {@link #modelTimestep(int)} maps index {@code t} of this process to the timestep of the
 * original process, which is what a model trained on the original sees.
 *
 * <p>Instances are immutable; array accessors return copies, element accessors do not copy.
 */
public final class NoiseSchedule {
    private final double[] betas;
    private final int[] timestepMap;
    private final double[] alphasCumprod;
    private final double[] alphasCumprodPrev;
    private final double[] posteriorVariance;
    private final double[] posteriorLogVarianceClipped;
    private final double[] posteriorMeanCoef1;
    private final double[] posteriorMeanCoef2;

    private NoiseSchedule(double[] betas, int[] timestepMap) {
        int n = betas.length;
        this.betas = betas;
        this.timestepMap = timestepMap;
        alphasCumprod = new double[n];
        alphasCumprodPrev = new double[n];
        posteriorVariance = new double[n];
        posteriorLogVarianceClipped = new double[n];
        posteriorMeanCoef1 = new double[n];
        posteriorMeanCoef2 = new double[n];
        double product = 1.0;
        for (int t = 0; t < n; t++) {
            alphasCumprodPrev[t] = product;
            product *= 1.0 - betas[t]; // sequential, as np.cumprod
            alphasCumprod[t] = product;
        }
        for (int t = 0; t < n; t++) {
            double oneMinusAbar = 1.0 - alphasCumprod[t];
            posteriorVariance[t] = betas[t] * (1.0 - alphasCumprodPrev[t]) / oneMinusAbar;
            posteriorMeanCoef1[t] = betas[t] * Math.sqrt(alphasCumprodPrev[t]) / oneMinusAbar;
            posteriorMeanCoef2[t] = (1.0 - alphasCumprodPrev[t]) * Math.sqrt(1.0 - betas[t]) / oneMinusAbar;
        }
        for (int t = 0; t < n; t++) {
            // β̃_0 = 0, whose log is −∞; DiT clips it to log β̃_1. A one-step process has no β̃_1,
            // so it falls back to log β_0 (the "fixed large" choice).
            double v = t > 0 ? posteriorVariance[t] : n > 1 ? posteriorVariance[1] : betas[0];
            posteriorLogVarianceClipped[t] = Math.log(v);
        }
    }

    /**
     * The process with variances {@code betas}, seen by the model at timesteps 0 … T−1.
     *
     * @throws IllegalArgumentException if {@code betas} is empty or an entry is outside (0, 1]
     */
    public static NoiseSchedule of(double[] betas) {
        int[] identity = new int[betas.length];
        Arrays.setAll(identity, i -> i);
        return of(betas, identity);
    }

    /**
     * The process with variances {@code betas} whose step {@code t} the model sees as
     * {@code timestepMap[t]}.
     */
    public static NoiseSchedule of(double[] betas, int[] timestepMap) {
        if (betas.length == 0) {
            throw new IllegalArgumentException("NoiseSchedule: betas must hold at least one step, got none");
        }
        if (timestepMap.length != betas.length) {
            throw new IllegalArgumentException(
                    "NoiseSchedule: timestepMap has " + timestepMap.length + " entries for " + betas.length + " betas");
        }
        for (int t = 0; t < betas.length; t++) {
            double b = betas[t];
            if (!(b > 0.0 && b <= 1.0)) {
                throw new IllegalArgumentException("NoiseSchedule: betas[" + t + "] = " + b + " is outside (0, 1]");
            }
        }
        return new NoiseSchedule(betas.clone(), timestepMap.clone());
    }

    /** T, the number of steps. */
    public int steps() {
        return betas.length;
    }

    /** β_t. */
    public double beta(int t) {
        return betas[t];
    }

    /** ᾱ_t. */
    public double alphaBar(int t) {
        return alphasCumprod[t];
    }

    /** ᾱ_{t−1}, with ᾱ_{−1} = 1. */
    public double alphaBarPrev(int t) {
        return alphasCumprodPrev[t];
    }

    /** β̃_t, the variance of q(x_{t−1} | x_t, x_0). */
    public double posteriorVariance(int t) {
        return posteriorVariance[t];
    }

    /** log β̃_t with entry 0 clipped to entry 1. */
    public double posteriorLogVarianceClipped(int t) {
        return posteriorLogVarianceClipped[t];
    }

    /** Coefficient of x_0 in the posterior mean. */
    public double posteriorMeanCoef1(int t) {
        return posteriorMeanCoef1[t];
    }

    /** Coefficient of x_t in the posterior mean. */
    public double posteriorMeanCoef2(int t) {
        return posteriorMeanCoef2[t];
    }

    /** The timestep of the original process that step {@code t} stands for. */
    public int modelTimestep(int t) {
        return timestepMap[t];
    }

    public double[] betas() {
        return betas.clone();
    }

    public double[] alphasCumprod() {
        return alphasCumprod.clone();
    }

    public double[] alphasCumprodPrev() {
        return alphasCumprodPrev.clone();
    }

    public double[] posteriorVariances() {
        return posteriorVariance.clone();
    }

    public double[] posteriorLogVariancesClipped() {
        return posteriorLogVarianceClipped.clone();
    }

    public double[] posteriorMeanCoefs1() {
        return posteriorMeanCoef1.clone();
    }

    public double[] posteriorMeanCoefs2() {
        return posteriorMeanCoef2.clone();
    }

    /** Original timesteps, one per step of this process. */
    public int[] timestepMap() {
        return timestepMap.clone();
    }

    @Override
    public String toString() {
        return "NoiseSchedule[T=" + betas.length + ", β_0=" + betas[0] + ", β_T-1=" + betas[betas.length - 1]
                + ", ᾱ_T-1=" + alphasCumprod[betas.length - 1] + "]";
    }
}
