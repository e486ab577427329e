package org.tessera.engine.bench;

import java.lang.foreign.Arena;
import org.tessera.engine.backend.AttentionMask;
import org.tessera.engine.backend.AttentionOps;
import org.tessera.engine.parallel.WorkerPool;
import org.tessera.engine.random.RandomStream;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Tensor;

/**
 * Times one self-attention shape: warm-up, then the best of several timed rounds, reported as
 * effective GF/s counting the two matrix products, 4·B·H·N²·d flops per call (the softmax is
 * not counted), so that the figure compares directly with a GEMM's.
 */
public final class AttentionBenchmark {
    private AttentionBenchmark() {}

    /** One measured shape. */
    public record Result(int batch, int heads, int tokens, int headDim, int threads, double gflops, double millis) {}

    /**
     * Measures unmasked self-attention with Q, K and V [batch, heads, tokens, headDim] row-major,
     * filled with N(0, 1) noise, and the usual scale 1/√headDim.
     */
    public static Result measure(
            AttentionOps ops, WorkerPool pool, int batch, int heads, int tokens, int headDim, double minSeconds) {
        try (Arena arena = Arena.ofShared()) {
            Tensor q = Tensor.zeros(arena, DType.F32, batch, heads, tokens, headDim);
            Tensor k = Tensor.zeros(arena, DType.F32, batch, heads, tokens, headDim);
            Tensor v = Tensor.zeros(arena, DType.F32, batch, heads, tokens, headDim);
            Tensor out = Tensor.zeros(arena, DType.F32, batch, heads, tokens, headDim);
            new RandomStream(1, 0).fillNormal(q, pool);
            new RandomStream(1, 1).fillNormal(k, pool);
            new RandomStream(1, 2).fillNormal(v, pool);
            Runnable call = () -> ops.attention(q, k, v, out, AttentionMask.NONE);
            double flops = 4.0 * batch * heads * tokens * (double) tokens * headDim;
            // At least 1 s of warm-up: the softmax, packing and kernel methods take C2 a few seconds
            // of compiler time on a busy machine.
            double best = BestOf.secondsPerCall(call, 1.0, minSeconds);
            return new Result(batch, heads, tokens, headDim, pool.threads(), flops / best / 1e9, best * 1e3);
        }
    }
}
