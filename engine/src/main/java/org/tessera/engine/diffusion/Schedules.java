package org.tessera.engine.diffusion;

import java.util.function.DoubleUnaryOperator;

/**
 * Factories for the β schedules in common use. All arithmetic is in double and follows the
 * reference code named on each method, so the arrays agree with it to rounding.
 */
public final class Schedules {
    /** The cap on β in the cosine schedule (Nichol &amp; Dhariwal 2021): keeps β_{T−1} below 1. */
    public static final double COSINE_MAX_BETA = 0.999;
    /** The offset s of the cosine schedule, which keeps β_0 from being vanishingly small. */
    private static final double COSINE_S = 0.008;

    /**
     * The schedules a script names, with the reference's constants: {@code linear} (DiT/ADM,
     * {@link #linear(int)}), {@code cosine}, {@code scaled_linear} (Stable Diffusion's 0.00085 to
     * 0.012) and {@code sqrt_linear} (LDM's {@code "sqrt"}, 1e-4 to 0.02). The one list the
     * language checks against and the runtime builds from.
     */
    public static final java.util.List<String> NAMES =
            java.util.List.of("linear", "cosine", "scaled_linear", "sqrt_linear");

    private Schedules() {}

    /**
     * The schedule called {@code name} (one of {@link #NAMES}) over {@code steps} steps.
     *
     * @throws IllegalArgumentException for any other name, listing the known ones
     */
    public static NoiseSchedule named(String name, int steps) {
        return switch (name) {
            case "linear" -> linear(steps);
            case "cosine" -> cosine(steps);
            case "scaled_linear" -> scaledLinear(steps, 0.00085, 0.012);
            case "sqrt_linear" -> sqrtLinear(steps, 0.0001, 0.02);
            default ->
                throw new IllegalArgumentException(
                        "unknown schedule '" + name + "' (" + String.join(", ", NAMES) + ")");
        };
    }

    /**
     * DiT's and ADM's {@code "linear"}: β linear from 1e-4 to 0.02 for T = 1000; for other T both
     * ends are scaled by 1000 / T, so the total noise ∑β stays the same (improved-diffusion's
     * {@code get_named_beta_schedule}).
     */
    public static NoiseSchedule linear(int steps) {
        checkSteps(steps);
        double scale = 1000.0 / steps;
        return linear(steps, scale * 0.0001, scale * 0.02);
    }

    /** β_t linear from {@code start} to {@code end} inclusive (Ho et al. 2020). */
    public static NoiseSchedule linear(int steps, double start, double end) {
        checkSteps(steps);
        return NoiseSchedule.of(linspace(start, end, steps));
    }

    /**
     * Stable Diffusion's {@code "scaled_linear"} (LDM's {@code "linear"}): √β linear from √start
     * to √end, i.e. β_t = (√start + t·(√end − √start)/(T−1))².
     */
    public static NoiseSchedule scaledLinear(int steps, double start, double end) {
        checkSteps(steps);
        double[] b = linspace(Math.sqrt(start), Math.sqrt(end), steps);
        for (int i = 0; i < b.length; i++) {
            b[i] *= b[i];
        }
        return NoiseSchedule.of(b);
    }

    /**
     * LDM's {@code "sqrt"} schedule: β_t = √(start + t·(end − start)/(T−1)). (LDM's
     * {@code "sqrt_linear"} is, despite its name, the plain {@link #linear(int, double, double)}.)
     */
    public static NoiseSchedule sqrtLinear(int steps, double start, double end) {
        checkSteps(steps);
        double[] b = linspace(start, end, steps);
        for (int i = 0; i < b.length; i++) {
            b[i] = Math.sqrt(b[i]);
        }
        return NoiseSchedule.of(b);
    }

    /**
     * The cosine schedule ({@code "squaredcos_cap_v2"}, Nichol &amp; Dhariwal 2021):
     * ᾱ(τ) = cos²((τ + 0.008) / 1.008 · π/2), β capped at 0.999.
     */
    public static NoiseSchedule cosine(int steps) {
        return fromAlphaBar(
                steps,
                tau -> {
                    double c = Math.cos((tau + COSINE_S) / (1 + COSINE_S) * Math.PI / 2);
                    return c * c;
                },
                COSINE_MAX_BETA);
    }

    /**
     * β_t = min(1 − ᾱ((t+1)/T) / ᾱ(t/T), maxBeta) for a continuous ᾱ on [0, 1], as
     * {@code betas_for_alpha_bar} does.
     */
    public static NoiseSchedule fromAlphaBar(int steps, DoubleUnaryOperator alphaBar, double maxBeta) {
        checkSteps(steps);
        if (!(maxBeta > 0 && maxBeta <= 1)) {
            throw new IllegalArgumentException("Schedules.fromAlphaBar: maxBeta = " + maxBeta + " is outside (0, 1]");
        }
        double[] b = new double[steps];
        for (int i = 0; i < steps; i++) {
            double t1 = (double) i / steps;
            double t2 = (double) (i + 1) / steps;
            b[i] = Math.min(1 - alphaBar.applyAsDouble(t2) / alphaBar.applyAsDouble(t1), maxBeta);
        }
        return NoiseSchedule.of(b);
    }

    /** A schedule with these exact βs (each in (0, 1]). */
    public static NoiseSchedule explicit(double... betas) {
        return NoiseSchedule.of(betas);
    }

    /**
     * Zero-terminal-SNR rescaling (Lin et al. 2024, "Common Diffusion Noise Schedules and Sample
     * Steps are Flawed", Algorithm 1): shift and scale √ᾱ so that √ᾱ_0 is unchanged and
     * √ᾱ_{T−1} = 0, then recover β. The last β becomes exactly 1, so x_{T−1} is pure noise; use
     * it with v-prediction, since ε-prediction cannot recover x_0 from pure noise. The timestep
     * map is kept.
     */
    public static NoiseSchedule rescaleZeroTerminalSnr(NoiseSchedule schedule) {
        int n = schedule.steps();
        if (n < 2) {
            throw new IllegalArgumentException("Schedules.rescaleZeroTerminalSnr: needs at least 2 steps, got " + n);
        }
        double[] sqrtAbar = new double[n];
        for (int t = 0; t < n; t++) {
            sqrtAbar[t] = Math.sqrt(schedule.alphaBar(t));
        }
        double first = sqrtAbar[0];
        double last = sqrtAbar[n - 1];
        double[] betas = new double[n];
        double prev = 1.0;
        for (int t = 0; t < n; t++) {
            double s = (sqrtAbar[t] - last) * first / (first - last);
            double abar = s * s;
            betas[t] = 1 - abar / prev; // α_t = ᾱ_t / ᾱ_{t−1}
            prev = abar;
        }
        betas[n - 1] = 1.0; // exact: ᾱ_{T−1} = 0
        return NoiseSchedule.of(betas, schedule.timestepMap());
    }

    /** NumPy's {@code linspace}: start + i·step, with the last entry exactly {@code end}. */
    static double[] linspace(double start, double end, int n) {
        double[] out = new double[n];
        if (n == 1) {
            out[0] = start;
            return out;
        }
        double step = (end - start) / (n - 1);
        for (int i = 0; i < n; i++) {
            out[i] = i * step + start;
        }
        out[n - 1] = end;
        return out;
    }

    private static void checkSteps(int steps) {
        if (steps < 1) {
            throw new IllegalArgumentException("Schedules: steps = " + steps + " must be at least 1");
        }
    }
}
