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

    /** Applies the processing in place to a contiguous F32 batch [B, …]. */
    void apply(Tensor x0);

    /** No processing. */
    enum None implements X0Processing {
        INSTANCE;

        @Override
        public void apply(Tensor x0) { }
    }

    /** Clamp to [−1, 1]. */
    enum Clip implements X0Processing {
        INSTANCE;

        @Override
        public void apply(Tensor x0) {
            float[] v = Buffers.read(x0);
            for (int i = 0; i < v.length; i++) {
                v[i] = Math.clamp(v[i], -1f, 1f);
            }
            Buffers.write(x0, v);
        }
    }

    /** See {@link X0Processing#dynamicThreshold}. */
    record DynamicThreshold(double percentile, double maxValue) implements X0Processing {
        public DynamicThreshold {
            if (!(percentile >= 0 && percentile <= 1)) {
                throw new IllegalArgumentException("dynamic thresholding: percentile = " + percentile
                        + " is outside [0, 1]");
            }
            if (!(maxValue >= 1)) {
                throw new IllegalArgumentException("dynamic thresholding: maxValue = " + maxValue + " must be at least 1");
            }
        }

        @Override
        public void apply(Tensor x0) {
            float[] v = Buffers.read(x0);
            int batch = x0.size(0);
            int per = v.length / batch;
            double[] abs = new double[per];
            for (int b = 0; b < batch; b++) {
                int base = b * per;
                for (int i = 0; i < per; i++) {
                    abs[i] = Math.abs((double) v[base + i]);
                }
                double s = Math.clamp(quantile(abs, percentile), 1.0, maxValue);
                for (int i = 0; i < per; i++) {
                    v[base + i] = (float) (Math.clamp(v[base + i], -s, s) / s);
                }
            }
            Buffers.write(x0, v);
        }

        /** torch.quantile's "linear" rule: interpolate between the order statistics around q·(n−1). */
        static double quantile(double[] values, double q) {
            double[] sorted = values.clone();
            Arrays.sort(sorted);
            double pos = q * (sorted.length - 1);
            int lo = (int) Math.floor(pos);
            int hi = Math.min(lo + 1, sorted.length - 1);
            return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
        }
    }
}
