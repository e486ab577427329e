package org.tessera.ffi;

/**
 * A CUDA, cuBLAS or NVRTC call that returned an error. The message names the call, the error's
 * name and its description, e.g. {@code cudaMalloc(2.1 GiB): cudaErrorMemoryAllocation (out of
 * memory)}.
 */
public final class CudaException extends RuntimeException {
    private final int code;

    public CudaException(String message, int code) {
        super(message);
        this.code = code;
    }

    /** The library's numeric status ({@code cudaError_t}, {@code cublasStatus_t} or {@code nvrtcResult}). */
    public int code() {
        return code;
    }
}
