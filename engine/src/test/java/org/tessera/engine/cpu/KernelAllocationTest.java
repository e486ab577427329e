package org.tessera.engine.cpu;

import static org.tessera.engine.cpu.KernelAssert.randn;

import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.tessera.engine.WarmAllocation;
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
    /** Bytes per call allowed: nothing, give or take the measurement's own noise. */
    private static final double BOUND = 64;

    private static final int[] X = {2, 256, 1152};
    private static final int[] ROW = {2, 1, 1152};

    /**
     * The most bytes per warm call among {@code ops}, each measured until it is clean (see
     * {@link WarmAllocation}); prints the ones that are not.
     */
    private static double worst(Map<String, Runnable> ops) {
        double worst = 0;
        for (Map.Entry<String, Runnable> op : ops.entrySet()) {
            double perCall = WarmAllocation.bestOfRounds(BOUND, 20, op.getValue());
            if (perCall >= BOUND) {
                System.out.println(op.getKey() + " allocates " + perCall + " bytes per call after warm-up");
            }
            worst = Math.max(worst, perCall);
        }
        return worst;
    }

    static double elementwise() {
        try (WorkerPool pool = new WorkerPool(1)) {
            ElementwiseOps ew = new VectorElementwise(pool);
            Tensor x = randn(1, X);
            Tensor y = randn(2, X);
            Tensor shift = randn(3, ROW);
            Tensor scale = randn(4, ROW);
            Tensor bias = randn(5, 1152);
            Tensor c = Tensor.of(new float[] {0.5f}, 1, 1, 1);
            Tensor out = Tensor.zeros(DType.F32, X);
            Map<String, Runnable> ops = new LinkedHashMap<>();
            ops.put("add", () -> ew.add(x, y, out));
            ops.put("add bias row", () -> ew.add(x, bias, out));
            ops.put("add [B,1,D] row", () -> ew.add(x, shift, out));
            ops.put("mul", () -> ew.mul(x, y, out));
            ops.put("mul scalar", () -> ew.mul(x, c, out));
            ops.put("axpby", () -> ew.axpby(0.5f, x, -2f, y, out));
            ops.put("modulate", () -> ew.modulate(x, shift, scale, out));
            ops.put("gelu", () -> ew.gelu(x, out));
            ops.put("silu", () -> ew.silu(x, out));
            return worst(ops);
        }
    }

    static double norms() {
        try (WorkerPool pool = new WorkerPool(1)) {
            NormOps norms = new VectorNorms(pool);
            Tensor x = randn(1, X);
            Tensor shift = randn(3, ROW);
            Tensor scale = randn(4, ROW);
            Tensor out = Tensor.zeros(DType.F32, X);
            Map<String, Runnable> ops = new LinkedHashMap<>();
            ops.put("layerNormModulate", () -> norms.layerNormModulate(x, shift, scale, 1e-6f, out));
            ops.put("layerNorm", () -> norms.layerNorm(x, null, null, 1e-6f, out));
            ops.put("softmax", () -> norms.softmax(x, out));
            return worst(ops);
        }
    }

    @Test
    void elementwiseOpsAllocateNothingPerCall() throws Exception {
        WarmAllocation.assertUnder(BOUND, KernelAllocationTest.class, "elementwise", "the worst elementwise op");
    }

    @Test
    void normsAllocateNothingPerCall() throws Exception {
        WarmAllocation.assertUnder(BOUND, KernelAllocationTest.class, "norms", "the worst norm");
    }
}
