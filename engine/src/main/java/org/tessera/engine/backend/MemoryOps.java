package org.tessera.engine.backend;

import java.lang.foreign.MemorySegment;
import org.tessera.engine.tensor.Device;
import org.tessera.engine.tensor.Tensor;

/**
 * Where a backend's tensors live and how data gets in and out: what lets the executor run one
 * compiled plan on the CPU or on a GPU unchanged. For the CPU it is plain host memory and every
 * method is trivial.
 */
public interface MemoryOps {
    /** The memory this backend's kernels read and write. */
    Device device();

    /**
     * {@code bytes} of this device's memory for a plan's buffers; {@link Allocation#close()}
     * frees it.
     */
    Allocation allocate(long bytes, String what);

    /** Device memory handed out by {@link #allocate}. */
    interface Allocation extends AutoCloseable {
        MemorySegment segment();

        @Override
        void close();
    }

    /**
     * A row-major tensor over {@code segment} (from {@link #allocate}) in this device's memory.
     */
    default Tensor tensor(MemorySegment segment, org.tessera.engine.tensor.DType dtype, int... shape) {
        return device() == Device.CPU
                ? Tensor.wrap(segment, dtype, shape)
                : Tensor.onDevice(segment, dtype, device(), shape);
    }

    /**
     * A copy of host tensor {@code host} that this backend's kernels can read, kept for the life of
     * the backend (compiled constants); the CPU returns {@code host} itself.
     */
    Tensor place(Tensor host);

    /**
     * {@code dst = src} for two tensors of one shape, each in host memory or in this device's;
     * a host-side {@code dst} is written once all queued work has run.
     */
    void copy(Tensor src, Tensor dst);

    /** {@code out[p, :] = table[ids[p], :]} (embedding lookup); an id out of range throws. */
    void gather(Tensor table, Tensor ids, Tensor out);

    /** Waits until every queued kernel has run (a no-op on the CPU). */
    void synchronize();

    /**
     * What one run of a plan holds while it copies in, launches and copies out: runs on one
     * device share its stream (and a CUDA graph capture must not see another run's launches), so
     * they take turns. The CPU returns null: its runs need no lock.
     */
    default Object runLock() {
        return null;
    }

    /**
     * Wraps a run of kernel launches that is repeated with the same buffers (one forward pass)
     * so that the device can record it once and replay it: CUDA captures it into a graph. The
     * CPU returns {@code steps} itself.
     */
    default Runnable replayable(Runnable steps) {
        return steps;
    }
}
