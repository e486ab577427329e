package org.tessera.engine.device;

import org.tessera.engine.backend.Backend;
import org.tessera.engine.parallel.WorkerPool;

/**
 * An opened device: the backend the model runs on, and the host (CPU) backend that does the
 * sampler's arithmetic, makes random weights and folds constants. On the CPU both are the same
 * backend. Closing it releases the GPU (its memory, streams and handles) and the worker threads.
 */
public final class ComputeDevice implements AutoCloseable {
    private final Backend host;
    private final Backend compute;
    private final AutoCloseable gpu;
    private boolean closed;

    ComputeDevice(Backend host, Backend compute, AutoCloseable gpu) {
        this.host = host;
        this.compute = compute;
        this.gpu = gpu;
    }

    /** The CPU backend: host memory, readable from Java. */
    public Backend host() {
        return host;
    }

    /** The backend the model's graph runs on: {@link #host()} or a GPU's. */
    public Backend compute() {
        return compute;
    }

    /** The CPU worker threads. */
    public WorkerPool pool() {
        return host.pool();
    }

    /** True when the model runs on a GPU. */
    public boolean onGpu() {
        return gpu != null;
    }

    /** The compute backend's name, e.g. {@code vector}, {@code scalar} or {@code cuda-tf32}. */
    public String name() {
        return compute.name();
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            if (gpu != null) {
                gpu.close();
            }
        } catch (Exception e) {
            throw new IllegalStateException("closing the GPU: " + e.getMessage(), e);
        } finally {
            host.pool().close();
        }
    }
}
