package org.tessera.engine.cpu;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.management.ManagementFactory;
import org.junit.jupiter.api.Test;
import org.tessera.engine.SecondJvm;
import org.tessera.engine.backend.AttentionMask;
import org.tessera.engine.backend.AttentionOps;
import org.tessera.engine.parallel.WorkerPool;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Tensor;

/**
 * Attention allocates no tensors and no vectors per call once warm: only the argument checks'
 * few small arrays (~200 B). A boxed vector or mask per panel (the bugs this guards against)
 * costs kilobytes to megabytes per call.
 */
class AttentionAllocationTest {
    private static long allocated() {
        return ((com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean()).getCurrentThreadAllocatedBytes();
    }

    /** Bytes per warm call: the best of rounds until one is clean or 30 s pass (C2 may compile late in a busy JVM). */
    static double measure() {
        try (WorkerPool pool = new WorkerPool(1)) {
            AttentionOps at = VectorKernels.attention(pool);
            Tensor q = Tensor.zeros(DType.F32, 1, 4, 256, 72);
            Tensor out = Tensor.zeros(DType.F32, 1, 4, 256, 72);
            double best = Double.MAX_VALUE;
            long deadline = System.nanoTime() + 30_000_000_000L;
            while (best >= 1024 && System.nanoTime() < deadline) {
                for (int i = 0; i < 100; i++) {
                    at.attention(q, q, q, out, AttentionMask.NONE);
                }
                long before = allocated();
                for (int i = 0; i < 50; i++) {
                    at.attention(q, q, q, out, AttentionMask.NONE);
                }
                best = Math.min(best, (allocated() - before) / 50.0);
            }
            return best;
        }
    }

    @Test
    void aWarmCallAllocatesAlmostNothing() throws Exception {
        double best = measure();
        if (best >= 1024) {
            System.out.println("attention allocated " + best + " bytes per call in this JVM; measuring in a fresh one"
                    + " (see SecondJvm)");
            best = SecondJvm.measure(AttentionAllocationTest.class, "measure");
        }
        assertTrue(best < 1024, "attention allocates " + best + " bytes per call after warm-up");
    }
}
