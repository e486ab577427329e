package org.tessera.engine.diffusion;

/** How the variance of the reverse step p(x_{t−1} | x_t) is chosen. */
public enum VarianceType {
    /** The posterior variance β̃_t (its log clipped at t = 0): the lower bound of the true variance. */
    FIXED_SMALL,
    /** β_t (with β̃_1 at t = 0, as DiT does): the upper bound. */
    FIXED_LARGE,
    /**
     * Learned (Nichol &amp; Dhariwal 2021): C extra output channels v ∈ [−1, 1] interpolate the
     * log variance, frac = (v + 1)/2, log σ² = frac·log β_t + (1 − frac)·log β̃_t (clipped).
     */
    LEARNED_RANGE;

    /** The number of output channels a model must produce for an input with {@code channels}. */
    public int outputChannels(int channels) {
        return this == LEARNED_RANGE ? 2 * channels : channels;
    }
}
