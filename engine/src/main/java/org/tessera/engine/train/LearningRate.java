package org.tessera.engine.train;

/**
 * The learning rate at each step: a linear warm-up from 0 to {@code peak} over {@code warmup}
 * steps, then constant (DiT's recipe: 1e-4 throughout) or a cosine decay to {@code floor} at
 * {@code total} steps.
 *
 * @param peak the rate after warm-up
 * @param warmup steps of linear warm-up (0 for none)
 * @param total the run's length, where a cosine decay ends
 * @param cosine true for the cosine decay, false for constant
 * @param floor the rate a cosine decay ends at
 */
public record LearningRate(double peak, long warmup, long total, boolean cosine, double floor) {
    public LearningRate {
        if (!(peak > 0) || warmup < 0 || total < 1 || floor < 0 || floor > peak) {
            throw new IllegalArgumentException(
                    "learning rate: need peak > 0, warmup ≥ 0, total ≥ 1 and 0 ≤ floor ≤ peak");
        }
    }

    /** A constant rate after {@code warmup} steps of warm-up. */
    public static LearningRate constant(double peak, long warmup) {
        return new LearningRate(peak, warmup, Long.MAX_VALUE, false, 0);
    }

    /** The rate of step {@code step} (from 1). */
    public double at(long step) {
        if (step <= warmup) {
            return peak * step / warmup;
        }
        if (!cosine) {
            return peak;
        }
        double progress = Math.min(1.0, (double) (step - warmup) / Math.max(1, total - warmup));
        return floor + (peak - floor) * 0.5 * (1 + Math.cos(Math.PI * progress));
    }
}
