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
    public static Result measure(AttentionOps ops, WorkerPool pool, int batch, int heads, int tokens, int headDim,
                                 double minSeconds) {
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
            // Warm up until the JIT has compiled the kernels (at least 1 s and 3 calls): the softmax,
            // packing and kernel methods take C2 a few seconds of compiler time on a busy machine.
            long warmEnd = System.nanoTime() + 1_000_000_000L;
            for (int i = 0; i < 3 || System.nanoTime() < warmEnd; i++) {
                call.run();
            }
            // Rounds of ~50 ms; report the best round, the usual convention for kernel peaks.
            int perRound = Math.max(1, (int) (0.05 / estimateSeconds(call)));
            double best = Double.MAX_VALUE;
            long end = System.nanoTime() + (long) (minSeconds * 1e9);
            do {
                long t0 = System.nanoTime();
                for (int i = 0; i < perRound; i++) {
                    call.run();
                }
                best = Math.min(best, (System.nanoTime() - t0) / 1e9 / perRound);
            } while (System.nanoTime() < end);
            return new Result(batch, heads, tokens, headDim, pool.threads(), flops / best / 1e9, best * 1e3);
        }
    }

    private static double estimateSeconds(Runnable call) {
        long t0 = System.nanoTime();
        call.run();
        return Math.max(1e-6, (System.nanoTime() - t0) / 1e9);
    }
}
