package org.tessera.engine.cpu;

import org.tessera.engine.backend.AttentionOps;
import org.tessera.engine.backend.Backend;
import org.tessera.engine.backend.GemmOps;
import org.tessera.engine.parallel.WorkerPool;

/**
 * The SIMD CPU backend and its op families. {@link org.tessera.engine.backend.Backends} loads
 * this class reflectively, so nothing outside this package links against the Vector API.
 */
public final class VectorKernels {
    private VectorKernels() {}

    /**
     * Every op family on {@code pool}.
     *
     * @throws IllegalArgumentException when a forced register tile cannot be honoured, here at
     *     start-up rather than at the first product
     */
    public static Backend backend(WorkerPool pool) {
        tile();
        VectorGemm gemm = new VectorGemm(pool);
        return new Backend(
                "vector",
                pool,
                gemm,
                attention(pool),
                new VectorNorms(pool),
                new VectorElementwise(pool),
                new VectorTables(pool),
                new VectorConv(pool, gemm),
                new VectorBackward(pool));
    }

    /** The register tile's rows, checked before GemmKernel loads: a bad forced choice is named, every time. */
    private static int tile() {
        return GemmTile.rows(VectorMath.S.vectorBitSize());
    }

    /** e.g. "512-bit vectors, 32 registers, 12×32 GEMM tile". */
    public static String describe() {
        tile();
        String kBlocks = GemmJob.KC_PREPACKED == GemmJob.KC
                ? "K blocks of " + GemmJob.KC
                : "K blocks of " + GemmJob.KC + ", " + GemmJob.KC_PREPACKED + " for weights";
        return VectorMath.S.vectorBitSize() + "-bit vectors, " + GemmKernel.REGISTERS + " registers, " + GemmKernel.MR
                + "×" + GemmKernel.NR + " GEMM tile, " + kBlocks;
    }

    public static GemmOps gemm(WorkerPool pool) {
        return new VectorGemm(pool);
    }

    public static AttentionOps attention(WorkerPool pool) {
        return new VectorAttention(pool);
    }
}
