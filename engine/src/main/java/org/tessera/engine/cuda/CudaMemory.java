package org.tessera.engine.cuda;

import java.lang.foreign.MemorySegment;
import org.tessera.engine.backend.MemoryOps;
import org.tessera.engine.tensor.Device;
import org.tessera.engine.tensor.ShapeMismatchException;
import org.tessera.engine.tensor.Tensor;
import org.tessera.ffi.CudaException;
import org.tessera.ffi.CudaRuntime;

/**
 * GPU memory for the executor: plan slabs from cudaMalloc, constants uploaded once, copies in
 * every direction, and forward passes replayed as CUDA graphs.
 */
final class CudaMemory implements MemoryOps {
    /** {@code -Dtessera.cuda.graphs=false} runs every launch eagerly (for debugging and profiling). */
    static final boolean GRAPHS = !"false".equals(System.getProperty("tessera.cuda.graphs"));

    private final CudaDevice dev;
    /** Row + 1 of the last bad embedding id since the last synchronize (i64 on the device), made at first use. */
    private Tensor badId;

    private int badIdTableRows;

    CudaMemory(CudaDevice dev) {
        this.dev = dev;
    }

    @Override
    public Device device() {
        return Device.CUDA;
    }

    @Override
    public Allocation allocate(long bytes, String what) {
        long ptr = CudaRuntime.malloc(bytes, what);
        MemorySegment seg = MemorySegment.ofAddress(ptr).reinterpret(Math.max(bytes, 1));
        return new Allocation() {
            private boolean closed;

            @Override
            public MemorySegment segment() {
                return seg;
            }

            @Override
            public void close() {
                if (!closed) {
                    closed = true;
                    CudaRuntime.streamSynchronize(dev.stream());
                    CudaRuntime.free(ptr);
                }
            }
        };
    }

    /** The device: every run on it takes turns on its one stream. */
    @Override
    public Object runLock() {
        return dev;
    }

    @Override
    public Tensor place(Tensor host) {
        return host.device() == Device.CUDA ? host : dev.upload(host);
    }

    @Override
    public void copy(Tensor src, Tensor dst) {
        boolean fromHost = src.device() == Device.CPU;
        boolean toHost = dst.device() == Device.CPU;
        if (!src.sameShape(dst)) {
            throw new ShapeMismatchException("copy: " + src + " into " + dst + " (shapes must match)");
        }
        if (src.dtype() != dst.dtype()) {
            if (fromHost || toHost) {
                throw new ShapeMismatchException(
                        "copy: converting " + src.dtype().shortName() + " to "
                                + dst.dtype().shortName() + " while moving between host and device is not supported");
            }
            CudaData.cast(dev, src, dst);
            return;
        }
        if (fromHost && toHost) {
            dst.copyFrom(src);
        } else if (fromHost) {
            if (dst.isContiguous()) {
                dev.copyToDevice(src, dst);
            } else {
                Tensor staged = dev.upload(src);
                try {
                    CudaData.copy(dev, staged, dst);
                    dev.synchronize("copy");
                } finally {
                    dev.free(staged);
                }
            }
        } else if (toHost) {
            Tensor contiguous = src;
            if (!src.isContiguous()) {
                contiguous = dev.allocate(src.dtype(), src.shape());
                CudaData.copy(dev, src, contiguous);
            }
            try {
                dst.copyFrom(dev.download(contiguous));
            } finally {
                if (contiguous != src) {
                    dev.free(contiguous);
                }
            }
        } else {
            CudaData.copy(dev, src, dst);
        }
    }

    @Override
    public void gather(Tensor table, Tensor ids, Tensor out) {
        if (badId == null) {
            badId = dev.allocate(org.tessera.engine.tensor.DType.I64, 1);
        }
        badIdTableRows = table.size(0);
        CudaData.gatherRowsAsync(dev, ids, table, out, badId);
    }

    /** Waits for the queued kernels, then reports a bad embedding id seen since the last call. */
    @Override
    public void synchronize() {
        dev.synchronize("the last kernels");
        if (badId != null) {
            CudaData.checkGather(dev, badId, badIdTableRows);
        }
    }

    /**
     * The first run goes eagerly (it sizes the scratch buffers and compiles nothing new later);
     * the second is captured into a CUDA graph on the device's stream, and every run from then on
     * is one graph launch. A capture that fails (a step that synchronises, say) falls back to
     * eager launches, with one warning line.
     */
    @Override
    public Runnable replayable(Runnable steps) {
        if (!GRAPHS) {
            return steps;
        }
        return new Replay(steps);
    }

    /** A step loop that is run once, then captured, then replayed (see {@link #replayable}). */
    private final class Replay implements Runnable, AutoCloseable {
        private final Runnable steps;
        private int runs;
        private MemorySegment graph;
        private boolean eager;

        Replay(Runnable steps) {
            this.steps = steps;
        }

        @Override
        public void close() {
            if (graph != null) {
                CudaRuntime.graphDestroy(graph);
                graph = null;
            }
        }

        @Override
        public void run() {
            if (eager || runs++ == 0) {
                steps.run();
                return;
            }
            if (graph == null) {
                CudaRuntime.beginCapture(dev.stream());
                try {
                    steps.run();
                } catch (RuntimeException e) {
                    abandon(e);
                    steps.run();
                    return;
                }
                try {
                    graph = CudaRuntime.endCaptureAndInstantiate(dev.stream());
                } catch (CudaException e) {
                    eager = true;
                    System.err.println("tessera: warning: could not capture a CUDA graph (" + e.getMessage()
                            + "); running kernel by kernel");
                    steps.run();
                    return;
                }
            }
            CudaRuntime.graphLaunch(graph, dev.stream());
        }

        private void abandon(RuntimeException e) {
            try {
                CudaRuntime.endCaptureAndInstantiate(dev.stream());
            } catch (CudaException ignored) {
                // the capture was invalidated; ending it resets the stream
            }
            eager = true;
            System.err.println("tessera: warning: could not capture a CUDA graph (" + e.getMessage()
                    + "); running kernel by kernel");
        }
    }
}
