package org.tessera.engine.diffusion;

import java.util.Arrays;
import java.util.TreeSet;

/**
 * Sampling with fewer steps than training (Nichol &amp; Dhariwal 2021, §4): keep a subset S of
 * the original timesteps and define a new process over S whose βs are recomputed from ᾱ,
 * β_i = 1 − ᾱ_{s_i} / ᾱ_{s_{i−1}}, so that its ᾱ at each kept step equals the original's and
 * the spaced process is exact. The model still sees the original timestep s_i, through
 * {@link NoiseSchedule#modelTimestep(int)}.
 *
 * <p>Which steps to keep follows DiT's {@code respace.py}: {@link #spaceTimesteps} reads
 * {@code "ddimN"} (an even integer stride giving exactly N steps) or section counts such as
 * {@code "10,15,20"} (the T steps cut into equal sections, each sampled evenly with its own
 * count); {@link TimestepSpacing} gives the diffusers-style leading / trailing / linspace sets.
 */
public final class Respacing {
    private Respacing() {}

    /** {@link #respace(NoiseSchedule, int[])} with the steps chosen by {@link #spaceTimesteps}. */
    public static NoiseSchedule respace(NoiseSchedule base, String sectionCounts) {
        return respace(base, spaceTimesteps(base.steps(), sectionCounts));
    }

    /**
     * The process over the kept steps {@code keep} of {@code base} (any order, no repeats).
     *
     * @throws IllegalArgumentException if a step is out of range or repeated
     */
    public static NoiseSchedule respace(NoiseSchedule base, int[] keep) {
        int total = base.steps();
        if (keep.length == 0) {
            throw new IllegalArgumentException("Respacing: no steps kept out of " + total);
        }
        int[] sorted = keep.clone();
        Arrays.sort(sorted);
        for (int i = 0; i < sorted.length; i++) {
            if (sorted[i] < 0 || sorted[i] >= total) {
                throw new IllegalArgumentException(
                        "Respacing: kept step " + sorted[i] + " is outside [0, " + total + ")");
            }
            if (i > 0 && sorted[i] == sorted[i - 1]) {
                throw new IllegalArgumentException("Respacing: kept step " + sorted[i] + " is repeated");
            }
        }
        double[] betas = new double[sorted.length];
        int[] map = new int[sorted.length];
        double last = 1.0;
        for (int i = 0; i < sorted.length; i++) {
            double abar = base.alphaBar(sorted[i]);
            betas[i] = 1 - abar / last;
            last = abar;
            map[i] = base.modelTimestep(sorted[i]);
        }
        return NoiseSchedule.of(betas, map);
    }

    /**
     * DiT's {@code space_timesteps}: the sorted steps of a {@code steps}-step process to keep.
     *
     * @param sectionCounts {@code "ddimN"} for N steps at an even integer stride from 0, or a
     *     comma-separated count per equal section, e.g. {@code "250"} or {@code "10,15,20"}
     * @throws IllegalArgumentException naming the request and T when no such subset exists
     */
    public static int[] spaceTimesteps(int steps, String sectionCounts) {
        String spec = sectionCounts.strip();
        if (spec.startsWith("ddim")) {
            int desired = parseCount(spec, spec.substring(4));
            for (int stride = 1; stride <= Math.max(1, steps - 1); stride++) {
                int count = (steps + stride - 1) / stride; // len(range(0, T, stride))
                if (count == desired) {
                    int[] out = new int[count];
                    for (int i = 0; i < count; i++) {
                        out[i] = i * stride;
                    }
                    return out;
                }
            }
            throw new IllegalArgumentException("Respacing: cannot create exactly " + desired + " steps out of " + steps
                    + " with an integer stride (timestep respacing \"" + sectionCounts + "\")");
        }
        String[] parts = spec.split(",", -1);
        int[] counts = new int[parts.length];
        for (int i = 0; i < parts.length; i++) {
            counts[i] = parseCount(spec, parts[i]);
        }
        if (parts.length > steps) {
            throw new IllegalArgumentException("Respacing: " + parts.length + " sections in \"" + sectionCounts
                    + "\" but only " + steps + " steps");
        }
        int sizePer = steps / counts.length;
        int extra = steps % counts.length;
        int start = 0;
        TreeSet<Integer> all = new TreeSet<>();
        for (int i = 0; i < counts.length; i++) {
            int size = sizePer + (i < extra ? 1 : 0);
            int count = counts[i];
            if (size < count) {
                throw new IllegalArgumentException(
                        "Respacing: cannot divide section " + i + " of " + size + " steps into " + count
                                + " (timestep respacing \"" + sectionCounts + "\", T = " + steps + ")");
            }
            double fracStride = count <= 1 ? 1 : (double) (size - 1) / (count - 1);
            double cur = 0;
            for (int k = 0; k < count; k++) {
                all.add(start + (int) Math.rint(cur)); // Python's round: half to even
                cur += fracStride;
            }
            start += size;
        }
        if (all.isEmpty()) {
            throw new IllegalArgumentException("Respacing: \"" + sectionCounts + "\" keeps no steps");
        }
        return all.stream().mapToInt(Integer::intValue).toArray();
    }

    private static int parseCount(String spec, String part) {
        try {
            int n = Integer.parseInt(part.strip());
            if (n < 0) {
                throw new NumberFormatException();
            }
            return n;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(
                    "Respacing: \"" + part + "\" in timestep respacing \"" + spec + "\" is not a step count", e);
        }
    }
}
