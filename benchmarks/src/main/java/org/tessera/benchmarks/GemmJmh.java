package org.tessera.benchmarks;

import java.lang.foreign.Arena;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.tessera.engine.backend.Backends;
import org.tessera.engine.backend.Epilogue;
import org.tessera.engine.backend.GemmOps;
import org.tessera.engine.backend.PackedMatrix;
import org.tessera.engine.parallel.WorkerPool;
import org.tessera.engine.random.RandomStream;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Tensor;

/**
 * C = A·B on the DiT-XL/2 shapes. Time per call; GF/s = 2·M·K·N / time. Run with
 * {@code bench/jmh.sh GemmJmh} (add {@code -prof gc} to confirm the hot path allocates nothing).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(
        value = 1,
        jvmArgsAppend = {"--add-modules", "jdk.incubator.vector"})
public class GemmJmh {
    @Param({"256x1152x3456", "256x1152x4608", "256x4608x1152", "512x1152x1152", "2048x2048x2048"})
    public String shape;

    @Param({"1", "2"})
    public int threads;

    private WorkerPool pool;
    private Arena arena;
    private GemmOps gemm;
    private Tensor a;
    private Tensor b;
    private Tensor c;
    private PackedMatrix packed;

    @Setup(Level.Trial)
    public void setUp() {
        String[] p = shape.split("x");
        int m = Integer.parseInt(p[0]);
        int k = Integer.parseInt(p[1]);
        int n = Integer.parseInt(p[2]);
        pool = new WorkerPool(threads);
        arena = Arena.ofShared();
        gemm = Backends.cpu(pool, System.err::println).gemm();
        a = Tensor.zeros(arena, DType.F32, m, k);
        b = Tensor.zeros(arena, DType.F32, k, n);
        c = Tensor.zeros(arena, DType.F32, m, n);
        new RandomStream(1, 0).fillUniform(a, pool);
        new RandomStream(1, 1).fillUniform(b, pool);
        packed = gemm.pack(b, arena);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        pool.close();
        arena.close();
    }

    @Benchmark
    public Tensor prepacked() {
        gemm.gemm(a, packed, c, 1f, 0f, Epilogue.NONE);
        return c;
    }

    @Benchmark
    public Tensor packPerCall() {
        gemm.gemm(a, b, c, 1f, 0f, Epilogue.NONE);
        return c;
    }
}
