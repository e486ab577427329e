package org.tessera.engine.diffusion;

import java.util.Arrays;
import org.tessera.engine.tensor.Tensor;

/**
 * What to do with the model's estimate of x_0 before it enters the posterior mean: nothing,
 * clip to the data range [−1, 1], or Imagen's dynamic thresholding.
 */
public sealed interface X0Processing {
    /** Leaves x_0 as predicted. */
    static X0Processing none() {
        return None.INSTANCE;
    }

    /** Clamps x_0 to [−1, 1] (DiT's {@code clip_denoised}). */
    static X0Processing clip() {
        return Clip.INSTANCE;
    }

    /**
     * Dynamic thresholding (Saharia et al. 2022, §2.3): per sample, s = the {@code percentile}
     * quantile of |x_0|, clamped to [1, {@code maxValue}]; then x_0 ← clamp(x_0, −s, s) / s.
     * Saturated pixels are pushed inwards instead of piling up at ±1.
     */
    static X0Processing dynamicThreshold(double percentile, double maxValue) {
        return new DynamicThreshold(percentile, maxValue);
    }

    /** Applies the processing in place to a contiguous F32 batch [B, …]; allocates nothing per call. */
    void apply(Tensor x0);

    /** No processing. */
    enum None implements X0Processing {
        INSTANCE;

        @Override
        public void apply(Tensor x0) {}
    }

    /** Clamp to [−1, 1]. */
    enum Clip implements X0Processing {
        INSTANCE;

        @Override
        public void apply(Tensor x0) {
            Buffers.checkContiguousF32("X0Processing.clip", x0);
            for (long i = 0; i < x0.numel(); i++) {
                Buffers.set(x0, i, Math.clamp(Buffers.get(x0, i), -1f, 1f));
            }
        }
    }

    /** See {@link X0Processing#dynamicThreshold}. */
    record DynamicThreshold(double percentile, double maxValue) implements X0Processing {
        /** |x_0| of one sample, per thread, reused so that a sampling loop allocates nothing. */
        private static final ThreadLocal<double[]> SCRATCH = ThreadLocal.withInitial(() -> new double[0]);

        public DynamicThreshold {
            if (!(percentile >= 0 && percentile <= 1)) {
                throw new IllegalArgumentException(
                        "dynamic thresholding: percentile = " + percentile + " is outside [0, 1]");
            }
            if (!(maxValue >= 1)) {
                throw new IllegalArgumentException(
                        "dynamic thresholding: maxValue = " + maxValue + " must be at least 1");
            }
        }

        @Override
        public void apply(Tensor x0) {
            Buffers.checkContiguousF32("X0Processing.dynamicThreshold", x0);
            int batch = x0.size(0);
            int per = Math.toIntExact(x0.numel() / batch);
            double[] abs = SCRATCH.get();
            if (abs.length < per) {
                abs = new double[per];
                SCRATCH.set(abs);
            }
            for (int b = 0; b < batch; b++) {
                long base = (long) b * per;
                for (int i = 0; i < per; i++) {
                    abs[i] = Math.abs((double) Buffers.get(x0, base + i));
                }
                double s = Math.clamp(quantileInPlace(abs, per, percentile), 1.0, maxValue);
                for (int i = 0; i < per; i++) {
                    Buffers.set(x0, base + i, (float) (Math.clamp((double) Buffers.get(x0, base + i), -s, s) / s));
                }
            }
        }

        /**
         * torch.quantile's "linear" rule over {@code values[0, n)}, which it sorts in place:
         * interpolate between the order statistics around q·(n−1).
         */
        static double quantileInPlace(double[] values, int n, double q) {
            Arrays.sort(values, 0, n);
            double pos = q * (n - 1);
            int lo = (int) Math.floor(pos);
            int hi = Math.min(lo + 1, n - 1);
            return values[lo] + (values[hi] - values[lo]) * (pos - lo);
        }
    }
}
