package org.tessera.engine.cuda;

import org.tessera.engine.backend.Backend;
import org.tessera.engine.backend.BackwardOps;
import org.tessera.engine.parallel.WorkerPool;
import org.tessera.ffi.Cublas;

/**
 * The CUDA backend: every op family of {@link Backend} on one GPU, for tensors in that GPU's
 * memory (see {@link CudaDevice#allocate} and {@link CudaDevice#upload}). Matrix products go to
 * cuBLAS in the chosen precision; everything else runs NVRTC-compiled kernels. Calls are
 * asynchronous on the device's stream.
 */
public final class CudaBackend {
    private CudaBackend() {}

    /** How matrix products are computed; everything else is FP32. */
    public enum Precision {
        FP32(Cublas.Precision.FP32),
        TF32(Cublas.Precision.TF32),
        BF16(Cublas.Precision.BF16);

        final Cublas.Precision cublas;

        Precision(Cublas.Precision cublas) {
            this.cublas = cublas;
        }
    }

    /** The op families on {@code device}, with products in {@code precision}. */
    public static Backend create(CudaDevice device, Precision precision) {
        CudaElementwise elementwise = new CudaElementwise(device);
        CudaNorms norms = new CudaNorms(device);
        CudaGemm gemm = new CudaGemm(device, precision.cublas, elementwise);
        // The pool is for host-side work around the kernels; the GPU does the arithmetic.
        return new Backend(
                "cuda-" + precision.name().toLowerCase(java.util.Locale.ROOT),
                new WorkerPool(1),
                gemm,
                new CudaAttention(device, elementwise, norms, precision.cublas),
                norms,
                elementwise,
                new CudaTables(device),
                new CudaConv(device, gemm),
                BackwardOps.none("the CUDA backend"),
                new CudaMemory(device));
    }
}
