package org.tessera.engine.cpu;

import org.junit.jupiter.api.Test;
import org.tessera.engine.WarmAllocation;
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
    /** Bytes per warm call (see {@link WarmAllocation}). */
    static double measure() {
        try (WorkerPool pool = new WorkerPool(1)) {
            AttentionOps at = VectorKernels.attention(pool);
            Tensor q = Tensor.zeros(DType.F32, 1, 4, 256, 72);
            Tensor out = Tensor.zeros(DType.F32, 1, 4, 256, 72);
            return WarmAllocation.bestOfRounds(1024, 50, () -> at.attention(q, q, q, out, AttentionMask.NONE));
        }
    }

    @Test
    void aWarmCallAllocatesAlmostNothing() throws Exception {
        WarmAllocation.assertUnder(1024, AttentionAllocationTest.class, "measure", "attention");
    }
}
