package org.tessera.engine.cuda;

/** CUDA was asked for but cannot be used here; the message says why (no library, driver or GPU). */
public final class CudaUnavailableException extends RuntimeException {
    public CudaUnavailableException(String message) {
        super(message);
    }
}
