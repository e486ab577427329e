package org.tessera.ffi;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.tessera.ffi.bindings.cuda_h;

/**
 * A cuBLAS handle bound to one stream, with the GEMM calls the CUDA backend makes. cuBLAS is
 * column-major; callers map row-major products onto it (C = A·B row-major is Cᵀ = Bᵀ·Aᵀ
 * column-major, i.e. the operands swap and nothing is transposed in memory).
 */
public final class Cublas implements AutoCloseable {
    /** How an FP32 product is computed. */
    public enum Precision {
        /** Full FP32 (CUBLAS_COMPUTE_32F). */
        FP32,
        /** TF32 tensor cores for FP32 data (CUBLAS_COMPUTE_32F_FAST_TF32). */
        TF32,
        /** BF16 operands, FP32 accumulation and output. */
        BF16
    }

    private final MemorySegment handle;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment alpha = arena.allocate(JAVA_FLOAT);
    private final MemorySegment beta = arena.allocate(JAVA_FLOAT);

    /** A handle whose work goes to {@code stream}, with {@code workspaceBytes} of device workspace at {@code workspace}. */
    public Cublas(MemorySegment stream, long workspace, long workspaceBytes) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment h = a.allocate(ADDRESS);
            check(cuda_h.cublasCreate_v2(h), "cublasCreate");
            handle = h.get(ADDRESS, 0);
        }
        check(cuda_h.cublasSetStream_v2(handle, stream), "cublasSetStream");
        if (workspaceBytes > 0) {
            // A fixed workspace keeps cuBLAS from allocating during CUDA graph capture.
            check(
                    cuda_h.cublasSetWorkspace_v2(handle, MemorySegment.ofAddress(workspace), workspaceBytes),
                    "cublasSetWorkspace");
        }
    }

    /** The library version, e.g. 130000 → 13.0.0. */
    public int version() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(JAVA_INT);
            check(cuda_h.cublasGetVersion_v2(handle, v), "cublasGetVersion");
            return v.get(JAVA_INT, 0);
        }
    }

    /**
     * Row-major C[m×n] = alpha·op(A)·op(B) + beta·C with leading dimensions (row strides) lda,
     * ldb, ldc, batched over {@code batch} matrices with element strides sa, sb, sc. A and B are
     * FP32, or BF16 for {@link Precision#BF16}; C is FP32.
     */
    public void gemm(
            Precision precision,
            boolean transA,
            boolean transB,
            int m,
            int n,
            int k,
            float alphaValue,
            long a,
            int lda,
            long sa,
            long b,
            int ldb,
            long sb,
            float betaValue,
            long c,
            int ldc,
            long sc,
            int batch) {
        alpha.set(JAVA_FLOAT, 0, alphaValue);
        beta.set(JAVA_FLOAT, 0, betaValue);
        int inType = precision == Precision.BF16 ? cuda_h.CUDA_R_16BF() : cuda_h.CUDA_R_32F();
        int compute = precision == Precision.TF32 ? cuda_h.CUBLAS_COMPUTE_32F_FAST_TF32() : cuda_h.CUBLAS_COMPUTE_32F();
        // Column-major view: Cᵀ[n×m] = op(B)ᵀ·op(A)ᵀ.
        int opB = transB ? cuda_h.CUBLAS_OP_T() : cuda_h.CUBLAS_OP_N();
        int opA = transA ? cuda_h.CUBLAS_OP_T() : cuda_h.CUBLAS_OP_N();
        int rc;
        if (batch == 1) {
            rc = cuda_h.cublasGemmEx(
                    handle,
                    opB,
                    opA,
                    n,
                    m,
                    k,
                    alpha,
                    MemorySegment.ofAddress(b),
                    inType,
                    ldb,
                    MemorySegment.ofAddress(a),
                    inType,
                    lda,
                    beta,
                    MemorySegment.ofAddress(c),
                    cuda_h.CUDA_R_32F(),
                    ldc,
                    compute,
                    cuda_h.CUBLAS_GEMM_DEFAULT());
        } else {
            rc = cuda_h.cublasGemmStridedBatchedEx(
                    handle,
                    opB,
                    opA,
                    n,
                    m,
                    k,
                    alpha,
                    MemorySegment.ofAddress(b),
                    inType,
                    ldb,
                    sb,
                    MemorySegment.ofAddress(a),
                    inType,
                    lda,
                    sa,
                    beta,
                    MemorySegment.ofAddress(c),
                    cuda_h.CUDA_R_32F(),
                    ldc,
                    sc,
                    batch,
                    compute,
                    cuda_h.CUBLAS_GEMM_DEFAULT());
        }
        if (rc != cuda_h.CUBLAS_STATUS_SUCCESS()) {
            throw new CudaException(
                    "cublasGemm" + (batch == 1 ? "Ex" : "StridedBatchedEx") + "(" + precision + ", " + m + "×" + k + "×"
                            + n + (batch == 1 ? "" : ", batch " + batch) + "): " + statusText(rc),
                    rc);
        }
    }

    @Override
    public void close() {
        cuda_h.cublasDestroy_v2(handle);
        arena.close();
    }

    private static void check(int rc, String call) {
        if (rc != cuda_h.CUBLAS_STATUS_SUCCESS()) {
            throw new CudaException(call + ": " + statusText(rc), rc);
        }
    }

    static String statusText(int rc) {
        return cuda_h.cublasGetStatusName(rc).reinterpret(256).getString(0) + " ("
                + cuda_h.cublasGetStatusString(rc).reinterpret(1024).getString(0) + ")";
    }
}
