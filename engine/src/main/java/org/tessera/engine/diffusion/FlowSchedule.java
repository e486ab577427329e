package org.tessera.engine.diffusion;

/**
 * The noise levels of a rectified flow (flow matching; Liu et al. 2022, Lipman et al. 2023, as
 * Stable Diffusion 3 uses it): x_σ = (1 − σ) x₀ + σ ε for σ ∈ [0, 1], and a model that predicts
 * the velocity v = ε − x₀ along that straight path. Sampling integrates dx/dσ = v from σ = 1 (pure
 * noise) down to 0.
 *
 * <p>The levels follow diffusers' {@code FlowMatchEulerDiscreteScheduler} without dynamic
 * shifting: the T training levels j/T (j = T … 1) are shifted by s ↦ shift·s / (1 + (shift − 1)·s),
 * which gives σ_max = 1 and σ_min; the N sampling levels are linspace(σ_max, σ_min, N), shifted the
 * same way, then 0 is appended. The model sees the timestep σ·T. A shift above 1 spends more steps
 * at high noise, which larger images need.
 */
public final class FlowSchedule {
    private final double[] sigmas; // N + 1 levels, the last 0
    private final int trainSteps;

    private FlowSchedule(double[] sigmas, int trainSteps) {
        this.sigmas = sigmas;
        this.trainSteps = trainSteps;
    }

    /**
     * N = {@code steps} sampling levels of a flow trained over {@code trainSteps} levels.
     *
     * @throws IllegalArgumentException for steps outside 1..trainSteps or a shift that is not positive
     */
    public static FlowSchedule of(int trainSteps, int steps, double shift) {
        if (trainSteps < 1 || steps < 1 || steps > trainSteps) {
            throw new IllegalArgumentException("flow schedule: " + steps + " sampling steps out of " + trainSteps);
        }
        if (!(shift > 0) || Double.isInfinite(shift)) {
            throw new IllegalArgumentException("flow schedule: shift must be positive, got " + shift);
        }
        double sigmaMax = shift(1.0, shift);
        double sigmaMin = shift(1.0 / trainSteps, shift);
        double[] levels = Schedules.linspace(sigmaMax * trainSteps, sigmaMin * trainSteps, steps);
        double[] sigmas = new double[steps + 1];
        for (int i = 0; i < steps; i++) {
            sigmas[i] = shift(levels[i] / trainSteps, shift);
        }
        sigmas[steps] = 0.0;
        return new FlowSchedule(sigmas, trainSteps);
    }

    /** s ↦ shift·s / (1 + (shift − 1)·s): the time shift of SD3 (1 leaves s as it is). */
    static double shift(double s, double shift) {
        return shift * s / (1 + (shift - 1) * s);
    }

    /** The number of sampling steps N. */
    public int steps() {
        return sigmas.length - 1;
    }

    /** σ at step i (0 = the first, noisiest step). */
    public double sigma(int i) {
        return sigmas[i];
    }

    /** σ after step i: the next level, 0 after the last step. */
    public double sigmaNext(int i) {
        return sigmas[i + 1];
    }

    /** The timestep the model sees at step i: σ_i·T. */
    public double modelTimestep(int i) {
        return sigmas[i] * trainSteps;
    }

    /** The levels σ_0 … σ_N (the last 0), a copy. */
    public double[] sigmas() {
        return sigmas.clone();
    }
}
