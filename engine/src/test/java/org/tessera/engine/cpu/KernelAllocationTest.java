package org.tessera.engine.cpu;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.tessera.engine.cpu.KernelAssert.randn;

import java.lang.management.ManagementFactory;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.tessera.engine.backend.ElementwiseOps;
import org.tessera.engine.backend.NormOps;
import org.tessera.engine.parallel.WorkerPool;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Tensor;

/**
 * The per-step pointwise and norm kernels allocate no heap per call once the JIT has compiled
 * them (before that, un-intrinsified vector ops box their results). DiT-XL/2 sizes:
 * x [2, 256, 1152], adaLN rows [2, 1, 1152]. One thread, so every byte is the measured thread's.
 */
class KernelAllocationTest {
    private static final WorkerPool POOL = new WorkerPool(1);
    private static final ThreadMXBeanHolder MX = new ThreadMXBeanHolder();
    /** Bytes per call allowed: nothing, give or take the measurement's own noise. */
    private static final double BOUND = 64;

    private static final int CALLS = 20;
    private static final int MAX_ROUNDS = 40;

    private static final int[] X = {2, 256, 1152};
    private static final int[] ROW = {2, 1, 1152};

    @AfterAll
    static void close() {
        POOL.close();
    }

    /** Isolates the com.sun.management cast. */
    private static final class ThreadMXBeanHolder {
        final com.sun.management.ThreadMXBean bean =
                (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

        long allocated() {
            return bean.getCurrentThreadAllocatedBytes();
        }
    }

    /**
     * Runs {@code op} in rounds of {@link #CALLS} calls until a round allocates under the bound
     * per call (the JIT has then compiled the kernels), failing with the last average otherwise.
     */
    private static void assertAllocationFree(String what, Runnable op) {
        double perCall = Double.NaN;
        long deadline = System.nanoTime() + 30_000_000_000L;
        for (int round = 0; round < MAX_ROUNDS || System.nanoTime() < deadline; round++) {
            long before = MX.allocated();
            for (int i = 0; i < CALLS; i++) {
                op.run();
            }
            perCall = (MX.allocated() - before) / (double) CALLS;
            if (perCall < BOUND) {
                return;
            }
        }
        assertTrue(perCall < BOUND, what + " allocates " + perCall + " bytes per call after warm-up");
    }

    @Test
    void elementwiseOpsAllocateNothingPerCall() {
        ElementwiseOps ew = new VectorElementwise(POOL);
        Tensor x = randn(1, X);
        Tensor y = randn(2, X);
        Tensor shift = randn(3, ROW);
        Tensor scale = randn(4, ROW);
        Tensor bias = randn(5, 1152);
        Tensor c = Tensor.of(new float[] {0.5f}, 1, 1, 1);
        Tensor out = Tensor.zeros(DType.F32, X);
        assertAllocationFree("add", () -> ew.add(x, y, out));
        assertAllocationFree("add bias row", () -> ew.add(x, bias, out));
        assertAllocationFree("add [B,1,D] row", () -> ew.add(x, shift, out));
        assertAllocationFree("mul", () -> ew.mul(x, y, out));
        assertAllocationFree("mul scalar", () -> ew.mul(x, c, out));
        assertAllocationFree("axpby", () -> ew.axpby(0.5f, x, -2f, y, out));
        assertAllocationFree("modulate", () -> ew.modulate(x, shift, scale, out));
        assertAllocationFree("gelu", () -> ew.gelu(x, out));
        assertAllocationFree("silu", () -> ew.silu(x, out));
    }

    @Test
    void normsAllocateNothingPerCall() {
        NormOps norms = new VectorNorms(POOL);
        Tensor x = randn(1, X);
        Tensor shift = randn(3, ROW);
        Tensor scale = randn(4, ROW);
        Tensor out = Tensor.zeros(DType.F32, X);
        assertAllocationFree("layerNormModulate", () -> norms.layerNormModulate(x, shift, scale, 1e-6f, out));
        assertAllocationFree("layerNorm", () -> norms.layerNorm(x, null, null, 1e-6f, out));
        assertAllocationFree("softmax", () -> norms.softmax(x, out));
    }
}
