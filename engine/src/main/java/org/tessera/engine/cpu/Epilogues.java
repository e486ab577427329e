package org.tessera.engine.cpu;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import org.tessera.engine.backend.Activation;

/** Row-wise {@code c = act(c + bias)}, applied to a GEMM tile while it is hot in L1. */
final class Epilogues {
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();

    private Epilogues() {}

    /**
     * Applies the epilogue to {@code rows} rows of {@code cols} floats starting at byte
     * {@code off} (row stride {@code ld} bytes); {@code bias} (may be null) is read from byte
     * {@code biasOff} on.
     */
    static void apply(MemorySegment c, long off, long ld, int rows, int cols,
                      MemorySegment bias, long biasOff, Activation act) {
        int L = VectorMath.L;
        for (int r = 0; r < rows; r++, off += ld) {
            int j = 0;
            for (; j + L <= cols; j += L) {
                FloatVector v = FloatVector.fromMemorySegment(VectorMath.S, c, off + 4L * j, NATIVE);
                if (bias != null) {
                    v = v.add(FloatVector.fromMemorySegment(VectorMath.S, bias, biasOff + 4L * j, NATIVE));
                }
                VectorMath.apply(act, v).intoMemorySegment(c, off + 4L * j, NATIVE);
            }
            if (j < cols) {
                VectorMask<Float> m = VectorMath.S.indexInRange(j, cols);
                FloatVector v = FloatVector.fromMemorySegment(VectorMath.S, c, off + 4L * j, NATIVE, m);
                if (bias != null) {
                    v = v.add(FloatVector.fromMemorySegment(VectorMath.S, bias, biasOff + 4L * j, NATIVE, m));
                }
                VectorMath.apply(act, v).intoMemorySegment(c, off + 4L * j, NATIVE, m);
            }
        }
    }
}
