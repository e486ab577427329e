package org.tessera.engine.cpu;

import java.lang.foreign.Arena;
import org.junit.jupiter.api.Test;
import org.tessera.engine.WarmAllocation;
import org.tessera.engine.backend.Activation;
import org.tessera.engine.backend.Epilogue;
import org.tessera.engine.backend.GemmOps;
import org.tessera.engine.backend.PackedMatrix;
import org.tessera.engine.parallel.WorkerPool;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Tensor;

/** The GEMM hot path allocates nothing per call once warm (one thread, so every byte is this thread's). */
class GemmAllocationTest {
    /** Bytes per warm call, prepacked and packing per call (see {@link WarmAllocation}). */
    static double measure() {
        try (WorkerPool pool = new WorkerPool(1)) {
            GemmOps g = VectorKernels.gemm(pool);
            Tensor a = Tensor.zeros(DType.F32, 100, 300);
            Tensor b = Tensor.zeros(DType.F32, 300, 70);
            Tensor c = Tensor.zeros(DType.F32, 100, 70);
            Tensor bias = Tensor.zeros(DType.F32, 70);
            Epilogue gelu = Epilogue.of(bias, Activation.GELU_TANH);
            PackedMatrix packed = g.pack(b, Arena.ofAuto());
            Runnable both = () -> {
                g.gemm(a, packed, c, 1f, 0f, gelu);
                g.gemm(a, b, c, 1f, 1f, Epilogue.NONE);
            };
            return WarmAllocation.bestOfRounds(2 * 64, 200, both) / 2;
        }
    }

    @Test
    void prepackedAndPerCallPackingAllocateNothingPerCall() throws Exception {
        WarmAllocation.assertUnder(64, GemmAllocationTest.class, "measure", "GEMM");
    }
}
