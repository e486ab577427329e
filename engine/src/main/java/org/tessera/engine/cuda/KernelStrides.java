package org.tessera.engine.cuda;

import org.tessera.engine.tensor.ShapeMismatchException;
import org.tessera.engine.tensor.Tensor;

/**
 * The kernels' {@code Strides} struct (common.cuh): an iteration shape of rank ≤ 6 and the
 * element strides of up to three operands over it, NumPy-broadcast (right-aligned; a size-1 or
 * missing dimension gets stride 0). Laid out as 1 + 4·6 longs.
 */
final class KernelStrides {
    static final int MAX_RANK = 6;
    static final int LONGS = 1 + 4 * MAX_RANK;

    private KernelStrides() {}

    /** Strides of {@code operands} (nulls allowed, as zero strides) broadcast to {@code shape}. */
    static long[] of(String op, int[] shape, Tensor... operands) {
        if (shape.length > MAX_RANK) {
            throw new ShapeMismatchException(op + " on CUDA: rank " + shape.length + " is above " + MAX_RANK);
        }
        long[] s = new long[LONGS];
        s[0] = shape.length;
        for (int d = 0; d < shape.length; d++) {
            s[1 + d] = shape[d];
        }
        for (int k = 0; k < operands.length && k < 3; k++) {
            Tensor t = operands[k];
            if (t == null) {
                continue;
            }
            int shift = shape.length - t.rank();
            if (shift < 0) {
                throw new ShapeMismatchException(op + ": operand " + java.util.Arrays.toString(t.shape())
                        + " does not broadcast to " + java.util.Arrays.toString(shape));
            }
            for (int d = 0; d < t.rank(); d++) {
                int size = t.size(d);
                int target = shape[shift + d];
                if (size != target && size != 1) {
                    throw new ShapeMismatchException(op + ": operand " + java.util.Arrays.toString(t.shape())
                            + " does not broadcast to " + java.util.Arrays.toString(shape));
                }
                s[1 + MAX_RANK * (k + 1) + shift + d] = size == 1 ? 0 : t.stride(d);
            }
        }
        return s;
    }
}
