package org.tessera.dsl;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The schedule values of one reverse step, as a sampler's lets and forward see them (all
 * computed in double from the respaced process; index k of that process):
 *
 * <table>
 *   <tr><td>{@code alpha_bar}</td><td>ᾱ_k</td></tr>
 *   <tr><td>{@code alpha_bar_prev}</td><td>ᾱ_{k−1}, the next, cleaner step's (1 at the last step)</td></tr>
 *   <tr><td>{@code alpha_bar_before}</td><td>ᾱ_{k+1}, the step that ran before this one (ᾱ_k at the first)</td></tr>
 *   <tr><td>{@code beta}</td><td>β_k of the respaced process</td></tr>
 *   <tr><td>{@code posterior_variance}, {@code posterior_log_variance}</td><td>β̃_k and its log (clipped at k = 0)</td></tr>
 *   <tr><td>{@code timestep}</td><td>the original timestep the model saw</td></tr>
 *   <tr><td>{@code step}, {@code steps}</td><td>0 for the first (noisiest) step; the number of steps</td></tr>
 *   <tr><td>{@code first}, {@code last}</td><td>whether this is the first / last step</td></tr>
 * </table>
 */
public record StepValues(double alphaBar, double alphaBarPrev, double alphaBarBefore, double beta,
                         double posteriorVariance, double posteriorLogVariance, int timestep, int step, int steps) {
    public StepValues {
        if (steps < 1 || step < 0 || step >= steps) {
            throw new IllegalArgumentException("step " + step + " of " + steps);
        }
    }

    /** The values by the names a sampler uses. */
    public Map<String, Object> byName() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("alpha_bar", alphaBar);
        m.put("alpha_bar_prev", alphaBarPrev);
        m.put("alpha_bar_before", alphaBarBefore);
        m.put("beta", beta);
        m.put("posterior_variance", posteriorVariance);
        m.put("posterior_log_variance", posteriorLogVariance);
        m.put("timestep", timestep);
        m.put("step", step);
        m.put("steps", steps);
        m.put("first", step == 0);
        m.put("last", step == steps - 1);
        return m;
    }
}
