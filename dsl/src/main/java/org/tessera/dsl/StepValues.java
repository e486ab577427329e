package org.tessera.dsl;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The values of one reverse step, by the names a sampler's lets and forward see (computed in
 * double before the step runs).
 *
 * <p>On a Gaussian diffusion ({@link #diffusion}; index k of the respaced process):
 * <table>
 *   <tr><td>{@code alpha_bar}</td><td>ᾱ_k</td></tr>
 *   <tr><td>{@code alpha_bar_prev}</td><td>ᾱ_{k−1}, the next, cleaner step's (1 at the last step)</td></tr>
 *   <tr><td>{@code alpha_bar_before}</td><td>ᾱ_{k+1}, the step that ran before this one (ᾱ_k at the first)</td></tr>
 *   <tr><td>{@code beta}</td><td>β_k of the respaced process</td></tr>
 *   <tr><td>{@code posterior_variance}, {@code posterior_log_variance}</td><td>β̃_k and its log (clipped at k = 0)</td></tr>
 *   <tr><td>{@code timestep}</td><td>the original timestep the model saw (an int)</td></tr>
 * </table>
 * On a rectified flow ({@link #flow}): {@code sigma} and {@code sigma_next} (the noise level now
 * and after the step, 0 after the last) and {@code timestep} (σ·T, a float). On both:
 * {@code step}, {@code steps} (0 for the first, noisiest step; the number of steps), {@code first},
 * {@code last}. A sampler written for one process does not compile on the other: the names it
 * uses are not there.
 */
public final class StepValues {
    private final Map<String, Object> values;
    private final boolean flow;

    private StepValues(Map<String, Object> values, boolean flow, int step, int steps) {
        if (steps < 1 || step < 0 || step >= steps) {
            throw new IllegalArgumentException("step " + step + " of " + steps);
        }
        values.put("step", step);
        values.put("steps", steps);
        values.put("first", step == 0);
        values.put("last", step == steps - 1);
        this.values = Collections.unmodifiableMap(values);
        this.flow = flow;
    }

    /** A step of a Gaussian diffusion. */
    public static StepValues diffusion(
            double alphaBar,
            double alphaBarPrev,
            double alphaBarBefore,
            double beta,
            double posteriorVariance,
            double posteriorLogVariance,
            int timestep,
            int step,
            int steps) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("alpha_bar", alphaBar);
        m.put("alpha_bar_prev", alphaBarPrev);
        m.put("alpha_bar_before", alphaBarBefore);
        m.put("beta", beta);
        m.put("posterior_variance", posteriorVariance);
        m.put("posterior_log_variance", posteriorLogVariance);
        m.put("timestep", timestep);
        return new StepValues(m, false, step, steps);
    }

    /** A step of a rectified flow, from σ to σ_next. */
    public static StepValues flow(double sigma, double sigmaNext, double timestep, int step, int steps) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("sigma", sigma);
        m.put("sigma_next", sigmaNext);
        m.put("timestep", timestep);
        return new StepValues(m, true, step, steps);
    }

    /** True for a step of a rectified flow. */
    public boolean isFlow() {
        return flow;
    }

    /** The values by the names a sampler uses. */
    public Map<String, Object> byName() {
        return values;
    }
}
