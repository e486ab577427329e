package org.tessera.engine.reference;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.tessera.engine.tensor.Tensor;

/** Index arithmetic shared by the scalar references: broadcasting and writing results back. */
final class RefArrays {
    private RefArrays() {}

    /**
     * Row-major strides of {@code shape} (in its own logical array) seen from the broadcast
     * shape {@code to}: right-aligned, 0 where {@code shape} has size 1 or no dimension at all.
     */
    static long[] broadcastStrides(int[] shape, int[] to) {
        long[] out = new long[to.length];
        long s = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            int d = i + to.length - shape.length;
            out[d] = shape[i] == 1 ? 0 : s;
            s *= shape[i];
        }
        return out;
    }

    /** Logical index into an operand with {@code strides} of the element at flat position {@code i} of {@code shape}. */
    static int index(long i, int[] shape, long[] strides) {
        long idx = 0;
        for (int d = shape.length - 1; d >= 0; d--) {
            idx += (i % shape[d]) * strides[d];
            i /= shape[d];
        }
        return Math.toIntExact(idx);
    }

    /** Writes {@code values}, rounded to float, into a contiguous F32 tensor. */
    static void write(Tensor out, double[] values) {
        float[] f = new float[values.length];
        for (int i = 0; i < f.length; i++) {
            f[i] = (float) values[i];
        }
        MemorySegment.copy(f, 0, out.storage(), ValueLayout.JAVA_FLOAT_UNALIGNED, out.byteOffset(), f.length);
    }
}
