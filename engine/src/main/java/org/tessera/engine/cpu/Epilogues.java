package org.tessera.engine.cpu;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import org.tessera.engine.backend.Activation;

/**
 * Row-wise {@code c = act(c + bias)}, applied to a GEMM tile while it is hot in L1.
 *
 * <p>One small method per activation rather than a switch inside one loop: with GELU's exp
 * inlined into a shared loop, C2 ran out of inlining budget and boxed every vector (~100 KB of
 * garbage per GEMM call).
 */
final class Epilogues {
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();

    private Epilogues() {}

    /**
     * Applies the epilogue to {@code rows} rows of {@code cols} floats starting at byte
     * {@code off} (row stride {@code ld} bytes); {@code bias} (may be null) is read from byte
     * {@code biasOff} on.
     */
    static void apply(
            MemorySegment c, long off, long ld, int rows, int cols, MemorySegment bias, long biasOff, Activation act) {
        for (int r = 0; r < rows; r++, off += ld) {
            switch (act) {
                case NONE -> biasRow(c, off, cols, bias, biasOff);
                case GELU_TANH -> geluRow(c, off, cols, bias, biasOff);
                case SILU -> siluRow(c, off, cols, bias, biasOff);
            }
        }
    }

    private static void biasRow(MemorySegment c, long off, int cols, MemorySegment bias, long biasOff) {
        if (bias == null) {
            return;
        }
        int j = 0;
        for (; j + VectorMath.L <= cols; j += VectorMath.L) {
            load(c, off, j).add(load(bias, biasOff, j)).intoMemorySegment(c, off + 4L * j, NATIVE);
        }
        if (j < cols) {
            VectorMask<Float> m = VectorMath.S.indexInRange(j, cols);
            load(c, off, j, m).add(load(bias, biasOff, j, m)).intoMemorySegment(c, off + 4L * j, NATIVE, m);
        }
    }

    private static void geluRow(MemorySegment c, long off, int cols, MemorySegment bias, long biasOff) {
        int j = VectorMath.gatedRow(Activation.GELU_TANH, c, off, bias, biasOff, c, off, cols);
        for (; j < cols; j++) { // scalar tail: the same recipe as the vector body, bit for bit
            float v = c.get(java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED, off + 4L * j);
            if (bias != null) {
                v += bias.get(java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED, biasOff + 4L * j);
            }
            c.set(java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED, off + 4L * j, VectorMath.gelu(v));
        }
    }

    private static void siluRow(MemorySegment c, long off, int cols, MemorySegment bias, long biasOff) {
        int j = VectorMath.gatedRow(Activation.SILU, c, off, bias, biasOff, c, off, cols);
        for (; j < cols; j++) {
            float v = c.get(java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED, off + 4L * j);
            if (bias != null) {
                v += bias.get(java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED, biasOff + 4L * j);
            }
            c.set(java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED, off + 4L * j, VectorMath.silu(v));
        }
    }

    private static FloatVector load(MemorySegment s, long off, int j) {
        return FloatVector.fromMemorySegment(VectorMath.S, s, off + 4L * j, NATIVE);
    }

    private static FloatVector load(MemorySegment s, long off, int j, VectorMask<Float> m) {
        return FloatVector.fromMemorySegment(VectorMath.S, s, off + 4L * j, NATIVE, m);
    }
}
