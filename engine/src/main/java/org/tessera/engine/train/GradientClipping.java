package org.tessera.engine.train;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import org.tessera.engine.tensor.Tensor;

/** What a training step does to gradients before the optimiser sees them. */
public final class GradientClipping {
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;

    private GradientClipping() {}

    /**
     * ‖g‖₂ over all the gradients together, in double. The lists are walked by index, not by
     * iterator, so that a training step allocates nothing here.
     */
    public static double globalNorm(List<Tensor> grads) {
        double sum = 0;
        for (int t = 0; t < grads.size(); t++) {
            Tensor g = grads.get(t);
            MemorySegment s = g.storage();
            long b = g.byteOffset();
            for (long i = 0, n = g.numel(); i < n; i++) {
                double x = s.get(F, b + 4 * i);
                sum += x * x;
            }
        }
        return Math.sqrt(sum);
    }

    /**
     * Scales every gradient by {@code maxNorm / ‖g‖} when the global norm exceeds {@code maxNorm}
     * (as {@code torch.nn.utils.clip_grad_norm_}); returns the norm before clipping. A NaN or
     * infinite norm is returned as is, for the caller to stop on.
     */
    public static double clipGlobalNorm(List<Tensor> grads, double maxNorm) {
        double norm = globalNorm(grads);
        if (Double.isFinite(norm) && norm > maxNorm) {
            float scale = (float) (maxNorm / (norm + 1e-6));
            for (int t = 0; t < grads.size(); t++) {
                Tensor g = grads.get(t);
                MemorySegment s = g.storage();
                long b = g.byteOffset();
                for (long i = 0, n = g.numel(); i < n; i++) {
                    s.set(F, b + 4 * i, s.get(F, b + 4 * i) * scale);
                }
            }
        }
        return norm;
    }
}
