package org.tessera.engine.diffusion;

/**
 * How to choose N of T training timesteps for sampling, as diffusers' schedulers do
 * ({@code timestep_spacing}; see Lin et al. 2024, Table 2). Each rule returns the chosen
 * timesteps in ascending order, ready for {@link Respacing#respace(NoiseSchedule, int[])}.
 */
public enum TimestepSpacing {
    /** round(linspace(0, T−1, N)): both ends included. */
    LINSPACE,
    /** i·⌊T/N⌋ + offset: starts at 0 (plus offset), so the last step is short of T−1. */
    LEADING,
    /** round(T − i·T/N) − 1: ends exactly at T−1, so sampling starts from the noisiest step. */
    TRAILING;

    /**
     * The N chosen timesteps, ascending.
     *
     * @param offset added to each step by {@link #LEADING} (diffusers' {@code steps_offset}); ignored otherwise
     * @throws IllegalArgumentException if N is not in [1, T] or a step falls outside [0, T)
     */
    public int[] select(int trainSteps, int sampleSteps, int offset) {
        if (sampleSteps < 1 || sampleSteps > trainSteps) {
            throw new IllegalArgumentException("TimestepSpacing." + this + ": cannot choose " + sampleSteps
                    + " sampling steps out of " + trainSteps + " training steps");
        }
        int[] out = new int[sampleSteps];
        switch (this) {
            case LINSPACE -> {
                double[] l = Schedules.linspace(0, trainSteps - 1, sampleSteps);
                for (int i = 0; i < sampleSteps; i++) {
                    out[i] = (int) Math.rint(l[i]);
                }
            }
            case LEADING -> {
                int ratio = trainSteps / sampleSteps;
                for (int i = 0; i < sampleSteps; i++) {
                    out[i] = i * ratio + offset;
                }
            }
            case TRAILING -> {
                double ratio = (double) trainSteps / sampleSteps;
                for (int i = 0; i < sampleSteps; i++) {
                    // np.arange(T, 0, −ratio) gives T − i·ratio, descending; reverse into ascending order.
                    out[sampleSteps - 1 - i] = (int) Math.rint(trainSteps - i * ratio) - 1;
                }
            }
        }
        for (int s : out) {
            if (s < 0 || s >= trainSteps) {
                throw new IllegalArgumentException("TimestepSpacing." + this + ": step " + s + " (offset " + offset
                        + ") is outside [0, " + trainSteps + ")");
            }
        }
        return out;
    }
}
