package org.tessera.ffi;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.tessera.ffi.bindings.cuda_h;
import org.tessera.ffi.bindings.dim3;

/**
 * Checked calls into the CUDA runtime: each throws {@link CudaException} naming the call and its
 * arguments when the runtime reports an error. Device pointers are {@code long}s; streams,
 * events, graphs and kernels are the runtime's opaque handles as {@link MemorySegment}s.
 *
 * <p>Call {@link Cuda#probe()} first: these methods assume the runtime library is loaded.
 */
public final class CudaRuntime {
    private CudaRuntime() {}

    public static void setDevice(int device) {
        Cuda.check(cuda_h.cudaSetDevice(device), "cudaSetDevice(" + device + ")");
    }

    /** Free and total device memory, in bytes. */
    public static long[] memInfo() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment free = a.allocate(JAVA_LONG);
            MemorySegment total = a.allocate(JAVA_LONG);
            Cuda.check(cuda_h.cudaMemGetInfo(free, total), "cudaMemGetInfo");
            return new long[] {free.get(JAVA_LONG, 0), total.get(JAVA_LONG, 0)};
        }
    }

    /**
     * Device memory; out of memory names the request and what is free, e.g. {@code cudaMalloc(3.1
     * GiB) for the memory plan: cudaErrorMemoryAllocation (out of memory); 1.2 GiB free of 139.8 GiB}.
     */
    public static long malloc(long bytes, String what) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(ADDRESS);
            int err = cuda_h.cudaMalloc(p, Math.max(bytes, 1));
            if (err != cuda_h.cudaSuccess()) {
                String free = "";
                if (err == cuda_h.cudaErrorMemoryAllocation()) {
                    cuda_h.cudaGetLastError(); // clear the sticky-free error before asking
                    long[] info = memInfo();
                    free = "; " + bytesText(info[0]) + " free of " + bytesText(info[1]);
                }
                throw new CudaException(
                        "cudaMalloc(" + bytesText(bytes) + ") for " + what + ": " + Cuda.errorText(err) + free, err);
            }
            return p.get(ADDRESS, 0).address();
        }
    }

    public static void free(long ptr) {
        Cuda.check(cuda_h.cudaFree(MemorySegment.ofAddress(ptr)), "cudaFree");
    }

    /** Page-locked host memory of {@code bytes}, for fast and asynchronous copies. */
    public static MemorySegment mallocHost(long bytes) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(ADDRESS);
            Cuda.check(cuda_h.cudaMallocHost(p, Math.max(bytes, 1)), "cudaMallocHost(" + bytesText(bytes) + ")");
            return p.get(ADDRESS, 0).reinterpret(bytes);
        }
    }

    public static void freeHost(MemorySegment host) {
        Cuda.check(cuda_h.cudaFreeHost(host), "cudaFreeHost");
    }

    /** Host → device, ordered on {@code stream}. */
    public static void copyToDevice(long dst, MemorySegment src, long bytes, MemorySegment stream) {
        Cuda.check(
                cuda_h.cudaMemcpyAsync(
                        MemorySegment.ofAddress(dst), src, bytes, cuda_h.cudaMemcpyHostToDevice(), stream),
                "cudaMemcpyAsync(host → device, " + bytesText(bytes) + ")");
    }

    /** Device → host, ordered on {@code stream} (synchronise before reading {@code dst}). */
    public static void copyToHost(MemorySegment dst, long src, long bytes, MemorySegment stream) {
        Cuda.check(
                cuda_h.cudaMemcpyAsync(
                        dst, MemorySegment.ofAddress(src), bytes, cuda_h.cudaMemcpyDeviceToHost(), stream),
                "cudaMemcpyAsync(device → host, " + bytesText(bytes) + ")");
    }

    public static void memsetZero(long dst, long bytes, MemorySegment stream) {
        Cuda.check(cuda_h.cudaMemsetAsync(MemorySegment.ofAddress(dst), 0, bytes, stream), "cudaMemsetAsync");
    }

    /** A stream that does not synchronise with the legacy default stream. */
    public static MemorySegment streamCreate() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(ADDRESS);
            Cuda.check(
                    cuda_h.cudaStreamCreateWithFlags(p, cuda_h.cudaStreamNonBlocking()), "cudaStreamCreateWithFlags");
            return p.get(ADDRESS, 0);
        }
    }

    public static void streamSynchronize(MemorySegment stream) {
        Cuda.check(cuda_h.cudaStreamSynchronize(stream), "cudaStreamSynchronize");
    }

    public static void streamDestroy(MemorySegment stream) {
        Cuda.check(cuda_h.cudaStreamDestroy(stream), "cudaStreamDestroy");
    }

    /** Starts recording {@code stream}'s work into a graph instead of running it. */
    public static void beginCapture(MemorySegment stream) {
        Cuda.check(
                cuda_h.cudaStreamBeginCapture(stream, cuda_h.cudaStreamCaptureModeThreadLocal()),
                "cudaStreamBeginCapture");
    }

    /** Ends the capture and instantiates it: the returned executable graph replays the work. */
    public static MemorySegment endCaptureAndInstantiate(MemorySegment stream) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment g = a.allocate(ADDRESS);
            Cuda.check(cuda_h.cudaStreamEndCapture(stream, g), "cudaStreamEndCapture");
            MemorySegment graph = g.get(ADDRESS, 0);
            MemorySegment exec = a.allocate(ADDRESS);
            try {
                Cuda.check(cuda_h.cudaGraphInstantiate(exec, graph, 0L), "cudaGraphInstantiate");
            } finally {
                cuda_h.cudaGraphDestroy(graph);
            }
            return exec.get(ADDRESS, 0);
        }
    }

    public static void graphLaunch(MemorySegment graphExec, MemorySegment stream) {
        Cuda.check(cuda_h.cudaGraphLaunch(graphExec, stream), "cudaGraphLaunch");
    }

    public static void graphDestroy(MemorySegment graphExec) {
        Cuda.check(cuda_h.cudaGraphExecDestroy(graphExec), "cudaGraphExecDestroy");
    }

    public static MemorySegment eventCreate() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(ADDRESS);
            Cuda.check(cuda_h.cudaEventCreate(p), "cudaEventCreate");
            return p.get(ADDRESS, 0);
        }
    }

    public static void eventRecord(MemorySegment event, MemorySegment stream) {
        Cuda.check(cuda_h.cudaEventRecord(event, stream), "cudaEventRecord");
    }

    /** Milliseconds between two recorded events (waits for {@code end}). */
    public static float elapsedMs(MemorySegment start, MemorySegment end) {
        Cuda.check(cuda_h.cudaEventSynchronize(end), "cudaEventSynchronize");
        try (Arena a = Arena.ofConfined()) {
            MemorySegment ms = a.allocate(JAVA_FLOAT);
            Cuda.check(cuda_h.cudaEventElapsedTime(ms, start, end), "cudaEventElapsedTime");
            return ms.get(JAVA_FLOAT, 0);
        }
    }

    public static void eventDestroy(MemorySegment event) {
        Cuda.check(cuda_h.cudaEventDestroy(event), "cudaEventDestroy");
    }

    /** Loads compiled device code (a cubin from {@link Nvrtc}) into the current context. */
    public static MemorySegment loadLibrary(byte[] cubin, String what) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment code = a.allocateFrom(JAVA_BYTE, cubin);
            MemorySegment lib = a.allocate(ADDRESS);
            Cuda.check(
                    cuda_h.cudaLibraryLoadData(
                            lib,
                            code,
                            MemorySegment.NULL,
                            MemorySegment.NULL,
                            0,
                            MemorySegment.NULL,
                            MemorySegment.NULL,
                            0),
                    "cudaLibraryLoadData(" + what + ")");
            return lib.get(ADDRESS, 0);
        }
    }

    /** A kernel of a loaded library, by its extern "C" name. */
    public static MemorySegment kernel(MemorySegment library, String name) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment k = a.allocate(ADDRESS);
            Cuda.check(
                    cuda_h.cudaLibraryGetKernel(k, library, a.allocateFrom(name)),
                    "cudaLibraryGetKernel(" + name + ")");
            return k.get(ADDRESS, 0);
        }
    }

    /**
     * Launches {@code kernel} on a grid of {@code gx·gy·gz} blocks of {@code threads} threads.
     * {@code args} is the kernel's {@code void**} argument array (see {@link KernelArgs}).
     */
    public static void launch(
            MemorySegment kernel,
            String name,
            int gx,
            int gy,
            int gz,
            int threads,
            int sharedBytes,
            MemorySegment args,
            MemorySegment stream,
            MemorySegment grid,
            MemorySegment block) {
        dim3.x(grid, gx);
        dim3.y(grid, gy);
        dim3.z(grid, gz);
        dim3.x(block, threads);
        dim3.y(block, 1);
        dim3.z(block, 1);
        int err = cuda_h.cudaLaunchKernel(kernel, grid, block, args, sharedBytes, stream);
        if (err != cuda_h.cudaSuccess()) {
            throw new CudaException(
                    "cudaLaunchKernel(" + name + ", grid " + gx + "×" + gy + "×" + gz + ", block " + threads + "): "
                            + Cuda.errorText(err),
                    err);
        }
    }

    /** Space for a grid or block size, for {@link #launch}. */
    public static MemorySegment dim3(Arena arena) {
        return arena.allocate(dim3.layout());
    }

    /** Waits for all work on the device and reports a failure of any earlier asynchronous launch. */
    public static void synchronize(String after) {
        Cuda.check(cuda_h.cudaDeviceSynchronize(), "cudaDeviceSynchronize after " + after);
    }

    static String bytesText(long b) {
        if (b < 1 << 20) {
            return String.format(java.util.Locale.ROOT, "%.1f KiB", b / 1024.0);
        }
        if (b < 1L << 30) {
            return String.format(java.util.Locale.ROOT, "%.1f MiB", b / (1024.0 * 1024));
        }
        return String.format(java.util.Locale.ROOT, "%.2f GiB", b / (1024.0 * 1024 * 1024));
    }
}
