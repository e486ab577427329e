package org.tessera.engine.cpu;

import org.tessera.engine.backend.GemmOps;
import org.tessera.engine.parallel.WorkerPool;

/** Entry points to the individual SIMD op families, for benchmarks and tests. */
public final class VectorKernels {
    private VectorKernels() {}

    public static GemmOps gemm(WorkerPool pool) {
        return new VectorGemm(pool);
    }
}
