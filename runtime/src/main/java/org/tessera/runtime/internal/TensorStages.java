package org.tessera.runtime.internal;

import java.util.Arrays;
import java.util.List;
import org.tessera.engine.tensor.Tensor;

/** The stages that move tensors between models: resampling and concatenation, on the host. */
final class TensorStages {
    private TensorStages() {}

    /**
     * Nearest-neighbour upsampling of [N, C, H, W] by {@code f}: each value becomes an f×f block,
     * as PyTorch's {@code interpolate(mode="nearest")} with an integer scale — the view
     * [N, C, H, 1, W, 1] expanded to [N, C, H, f, W, f], copied, then read as [N, C, H·f, W·f].
     */
    static Tensor upsample(Tensor x, int f, String stage) {
        if (x.rank() != 4) {
            throw new IllegalArgumentException("stage '" + stage + "': upsample needs [N, C, H, W], got "
                    + Arrays.toString(x.shape()));
        }
        int n = x.size(0);
        int c = x.size(1);
        int h = x.size(2);
        int w = x.size(3);
        Tensor blocks = x.contiguous().reshape(n, c, h, 1, w, 1).expand(n, c, h, f, w, f).contiguous();
        return blocks.reshape(n, c, h * f, w * f);
    }

    /** {@code xs} joined along {@code dim}; every other dimension must agree. */
    static Tensor concat(List<Tensor> xs, int dim, String stage) {
        int[] shape = xs.get(0).shape();
        if (dim >= shape.length) {
            throw new IllegalArgumentException("stage '" + stage + "': concat dim " + dim + " of a rank-" + shape.length
                    + " tensor");
        }
        int total = 0;
        for (Tensor t : xs) {
            int[] s = t.shape();
            int[] a = s.clone();
            int[] b = shape.clone();
            a[dim] = 0;
            b[dim] = 0;
            if (s.length != shape.length || !Arrays.equals(a, b)) {
                throw new IllegalArgumentException("stage '" + stage + "': cannot concatenate " + Arrays.toString(shape)
                        + " and " + Arrays.toString(s) + " along dim " + dim);
            }
            total += s[dim];
        }
        int[] out = shape.clone();
        out[dim] = total;
        Tensor result = Tensor.zeros(xs.get(0).dtype(), out);
        int at = 0;
        for (Tensor t : xs) {
            result.slice(dim, at, at + t.size(dim)).copyFrom(t);
            at += t.size(dim);
        }
        return result;
    }
}
