package org.tessera.engine.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Device;
import org.tessera.engine.tensor.ShapeMismatchException;
import org.tessera.engine.tensor.Tensor;
import org.tessera.ffi.Cublas;
import org.tessera.ffi.Cuda;
import org.tessera.ffi.CudaRuntime;
import org.tessera.ffi.KernelArgs;

/**
 * One GPU as the CUDA backend uses it: a stream that all work is ordered on, a cuBLAS handle
 * with a fixed workspace, the NVRTC-compiled kernels, and the device memory it handed out.
 * Operations are asynchronous on the stream; {@link #download} and {@link #synchronize} wait.
 */
public final class CudaDevice implements AutoCloseable {
    /** cuBLAS workspace: fixed, so that cuBLAS never allocates while a CUDA graph is captured. */
    private static final long CUBLAS_WORKSPACE = 32L << 20;
    /** Threads per block of the 1-D (grid-stride) kernels. */
    static final int THREADS = 256;

    private final Cuda.Device info;
    private final MemorySegment stream;
    private final long workspace;
    private final Cublas cublas;
    private final CudaKernels kernels;
    private final Arena arena = Arena.ofShared();
    private final ThreadLocal<Launch> launches;
    private final Map<Long, Long> allocations = new HashMap<>();
    private final int maxBlocks;
    /** Page-locked staging for host ↔ device copies, grown as needed (DMA runs at full speed from it). */
    private MemorySegment pinned;

    private record Launch(KernelArgs args, MemorySegment grid, MemorySegment block) {}

    private CudaDevice(Cuda.Device info, Path cacheDir) {
        this.info = info;
        CudaRuntime.setDevice(info.index());
        this.stream = CudaRuntime.streamCreate();
        this.workspace = CudaRuntime.malloc(CUBLAS_WORKSPACE, "the cuBLAS workspace");
        this.cublas = new Cublas(stream, workspace, CUBLAS_WORKSPACE);
        this.kernels = new CudaKernels(info.arch(), cacheDir);
        this.launches = ThreadLocal.withInitial(
                () -> new Launch(new KernelArgs(arena, 16, 1024), CudaRuntime.dim3(arena), CudaRuntime.dim3(arena)));
        // Grid-stride kernels need no more than a few waves of blocks.
        this.maxBlocks = Math.max(1, info.multiprocessors()) * 16;
    }

    /**
     * Opens GPU {@code index}, compiling the kernels on first use (cached under
     * {@code ~/.cache/tessera/cuda}).
     *
     * @throws CudaUnavailableException saying why when there is no usable CUDA
     */
    public static CudaDevice open(int index) {
        Cuda.Status s = Cuda.probe();
        if (!s.available()) {
            throw new CudaUnavailableException("CUDA is not available: " + s.problem());
        }
        if (index < 0 || index >= s.devices().size()) {
            throw new CudaUnavailableException(
                    "no GPU " + index + " (" + s.devices().size() + " visible)");
        }
        return new CudaDevice(s.devices().get(index), CudaKernels.defaultCacheDir());
    }

    public Cuda.Device info() {
        return info;
    }

    MemorySegment stream() {
        return stream;
    }

    Cublas cublas() {
        return cublas;
    }

    /** Zero-filled device memory for a row-major tensor, freed by {@link #free} or {@link #close}. */
    public Tensor allocate(DType dtype, int... shape) {
        long n = 1;
        for (int d : shape) {
            n *= d;
        }
        long bytes = Math.max(n * dtype.byteSize(), 1);
        long ptr = CudaRuntime.malloc(bytes, dtype.shortName() + java.util.Arrays.toString(shape));
        synchronized (allocations) {
            allocations.put(ptr, bytes);
        }
        CudaRuntime.memsetZero(ptr, bytes, stream);
        return Tensor.onDevice(MemorySegment.ofAddress(ptr).reinterpret(bytes), dtype, Device.CUDA, shape);
    }

    /** Frees a tensor made by {@link #allocate} or {@link #upload} (not a view of one). */
    public void free(Tensor t) {
        long ptr = t.storage().address();
        synchronized (allocations) {
            if (allocations.remove(ptr) == null) {
                throw new IllegalArgumentException("free: not an allocation of this device: " + t);
            }
        }
        CudaRuntime.free(ptr);
    }

    /** A device copy of a host tensor (any view; converted to row-major on the host first). */
    public Tensor upload(Tensor host) {
        Tensor out = allocate(host.dtype(), host.shape());
        copyToDevice(host, out);
        return out;
    }

    /**
     * Copies host data into an existing row-major device tensor of the same shape and dtype,
     * through the pinned staging buffer (in chunks for large tensors); returns when the copy is done.
     */
    public void copyToDevice(Tensor host, Tensor device) {
        requireSameLayout(host, device);
        Tensor src = host.isContiguous() ? host : host.contiguous();
        long bytes = src.numel() * src.dtype().byteSize();
        long dst = address(device);
        synchronized (this) {
            for (long done = 0; done < bytes; ) {
                long n = Math.min(bytes - done, stagingCapacity(bytes));
                MemorySegment.copy(src.storage(), src.byteOffset() + done, pinned, 0, n);
                CudaRuntime.copyToDevice(dst + done, pinned, n, stream);
                // The staging buffer is reused by the next chunk and call: wait for the copy.
                CudaRuntime.streamSynchronize(stream);
                done += n;
            }
        }
    }

    /** A host copy of a row-major device tensor, after everything queued before it has run. */
    public Tensor download(Tensor device) {
        if (!device.isContiguous()) {
            throw new ShapeMismatchException("download: expects a row-major device tensor, got " + device);
        }
        Tensor out = Tensor.zeros(device.dtype(), device.shape());
        long bytes = device.numel() * device.dtype().byteSize();
        long src = address(device);
        synchronized (this) {
            for (long done = 0; done < bytes; ) {
                long n = Math.min(bytes - done, stagingCapacity(bytes));
                CudaRuntime.copyToHost(pinned, src + done, n, stream);
                CudaRuntime.streamSynchronize(stream);
                MemorySegment.copy(pinned, 0, out.storage(), done, n);
                done += n;
            }
        }
        return out;
    }

    /** Staging of min(bytes, 64 MiB), at least 1 MiB, made or grown on demand. */
    private long stagingCapacity(long bytes) {
        long want = Math.max(1L << 20, Math.min(bytes, 64L << 20));
        if (pinned == null || pinned.byteSize() < want) {
            if (pinned != null) {
                CudaRuntime.freeHost(pinned);
            }
            pinned = CudaRuntime.mallocHost(want);
        }
        return pinned.byteSize();
    }

    /** Waits for all queued work; an asynchronous kernel failure surfaces here, naming {@code after}. */
    public void synchronize(String after) {
        CudaRuntime.streamSynchronize(stream);
        CudaRuntime.synchronize(after);
    }

    /** Device address of a tensor's first element. */
    static long address(Tensor t) {
        if (t == null) {
            return 0L;
        }
        if (t.device() != Device.CUDA) {
            throw new ShapeMismatchException(
                    "expected a CUDA tensor, got one in " + t.device().shortName() + " memory: "
                            + t.dtype().shortName() + java.util.Arrays.toString(t.shape()));
        }
        return t.storage().address() + t.byteOffset();
    }

    private static void requireSameLayout(Tensor host, Tensor device) {
        if (host.dtype() != device.dtype() || !host.sameShape(device) || !device.isContiguous()) {
            throw new ShapeMismatchException("copy to device: " + host + " does not fit " + device);
        }
    }

    /** This thread's argument block for the next launch, emptied. */
    KernelArgs args() {
        return launches.get().args().reset();
    }

    /** Launches a grid-stride kernel over {@code n} items with the arguments from {@link #args()}. */
    void launch1d(String file, String name, long n) {
        int blocks = (int) Math.max(1, Math.min((n + THREADS - 1) / THREADS, maxBlocks));
        launch(file, name, blocks, 1, 1, THREADS);
    }

    /** Launches a kernel on a gx·gy·gz grid of blocks of {@code threads} threads. */
    void launch(String file, String name, int gx, int gy, int gz, int threads) {
        Launch l = launches.get();
        CudaRuntime.launch(
                kernels.kernel(file, name),
                name,
                gx,
                gy,
                gz,
                threads,
                0,
                l.args().pointers(),
                stream,
                l.grid(),
                l.block());
    }

    @Override
    public void close() {
        CudaRuntime.streamSynchronize(stream);
        cublas.close();
        synchronized (allocations) {
            for (long ptr : allocations.keySet()) {
                CudaRuntime.free(ptr);
            }
            allocations.clear();
        }
        CudaRuntime.free(workspace);
        if (pinned != null) {
            CudaRuntime.freeHost(pinned);
        }
        CudaRuntime.streamDestroy(stream);
        arena.close();
    }

    @Override
    public String toString() {
        return "cuda:" + info.index() + " (" + info.name() + ", " + info.arch() + ")";
    }
}
