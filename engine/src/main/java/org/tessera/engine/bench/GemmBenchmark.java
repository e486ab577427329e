package org.tessera.engine.bench;

import java.lang.foreign.Arena;
import org.tessera.engine.backend.Epilogue;
import org.tessera.engine.backend.GemmOps;
import org.tessera.engine.backend.PackedMatrix;
import org.tessera.engine.parallel.WorkerPool;
import org.tessera.engine.random.RandomStream;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Tensor;

/**
 * Times one GEMM shape: warm-up, then the best of several timed rounds, reported as GF/s
 * (2·M·K·N flops per call). Used by {@code tessera bench gemm} and bench/gemm-vs-openblas.sh;
 * the JMH benchmarks measure the same calls with JMH's statistics.
 */
public final class GemmBenchmark {
    private GemmBenchmark() {}

    /** One measured shape. */
    public record Result(int m, int k, int n, boolean prepacked, int threads, double gflops, double millis) {}

    /**
     * Measures C = A·B with A [m, k] and B [k, n] row-major, either with B packed once up front
     * ({@code prepacked}) or packed inside every call.
     */
    public static Result measure(
            GemmOps gemm, WorkerPool pool, int m, int k, int n, boolean prepacked, double minSeconds) {
        return measure(gemm, pool, m, k, n, prepacked, minSeconds, 0.05);
    }

    /**
     * {@link #measure(GemmOps, WorkerPool, int, int, int, boolean, double)} with rounds of about
     * {@code roundSeconds} (the best round wins): set beside a whole forward pass, rounds as long
     * as the forward let both see the machine over the same stretch of time.
     */
    public static Result measure(
            GemmOps gemm,
            WorkerPool pool,
            int m,
            int k,
            int n,
            boolean prepacked,
            double minSeconds,
            double roundSeconds) {
        try (Arena arena = Arena.ofShared()) {
            Tensor a = Tensor.zeros(arena, DType.F32, m, k);
            Tensor b = Tensor.zeros(arena, DType.F32, k, n);
            Tensor c = Tensor.zeros(arena, DType.F32, m, n);
            new RandomStream(1, 0).fillUniform(a, pool);
            new RandomStream(1, 1).fillUniform(b, pool);
            PackedMatrix packed = prepacked ? gemm.pack(b, arena) : null;
            Runnable call = prepacked
                    ? () -> gemm.gemm(a, packed, c, 1f, 0f, Epilogue.NONE)
                    : () -> gemm.gemm(a, b, c, 1f, 0f, Epilogue.NONE);
            double flops = 2.0 * m * k * n;
            double best = BestOf.secondsPerCall(call, 0.3, minSeconds, roundSeconds);
            return new Result(m, k, n, prepacked, pool.threads(), flops / best / 1e9, best * 1e3);
        }
    }
}
