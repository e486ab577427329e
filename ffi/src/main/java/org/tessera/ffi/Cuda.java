package org.tessera.ffi;

import static org.tessera.ffi.bindings.cuda_h.C_INT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import org.tessera.ffi.bindings.cudaDeviceProp;
import org.tessera.ffi.bindings.cuda_h;

/**
 * Whether CUDA can be used in this process, and checked calls into the CUDA runtime.
 *
 * <p>{@link #probe()} never throws: with no libraries, no driver or no device it returns a
 * {@link Status} whose {@link Status#problem()} says which, so that the caller can fall back to
 * the CPU and tell the user why.
 */
public final class Cuda {
    private Cuda() {}

    /** One visible GPU. */
    public record Device(int index, String name, int major, int minor, long totalMemory, int multiprocessors) {
        /** {@code sm_90} for compute capability 9.0. */
        public String arch() {
            return "sm_" + major + minor;
        }
    }

    /**
     * What {@link #probe()} found.
     *
     * @param libraries each library's path or the reason it is missing
     * @param runtimeVersion {@code CUDART_VERSION} of the loaded runtime (13000 = 13.0), 0 if none
     * @param driverVersion the newest CUDA version the driver supports, 0 if there is no driver
     * @param devices the visible GPUs
     * @param problem why CUDA cannot be used, or null when it can
     */
    public record Status(
            List<CudaLibraries.Found> libraries,
            int runtimeVersion,
            int driverVersion,
            List<Device> devices,
            String problem) {
        public boolean available() {
            return problem == null;
        }
    }

    private static volatile Status status;

    /** Loads the libraries (once) and asks the runtime for its version, the driver and the devices. */
    public static Status probe() {
        Status s = status;
        if (s == null) {
            synchronized (Cuda.class) {
                if (status == null) {
                    status = doProbe();
                }
                s = status;
            }
        }
        return s;
    }

    private static Status doProbe() {
        List<CudaLibraries.Found> libs = CudaLibraries.load();
        CudaLibraries.Found runtime = libs.get(0);
        if (!runtime.ok()) {
            return new Status(libs, 0, 0, List.of(), runtime.file() + " " + runtime.problem());
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(C_INT);
            int runtimeVersion = cuda_h.cudaRuntimeGetVersion(out) == cuda_h.cudaSuccess() ? out.get(C_INT, 0) : 0;
            int driverVersion = cuda_h.cudaDriverGetVersion(out) == cuda_h.cudaSuccess() ? out.get(C_INT, 0) : 0;
            int err = cuda_h.cudaGetDeviceCount(out);
            List<Device> devices = new ArrayList<>();
            String problem = null;
            if (err != cuda_h.cudaSuccess()) {
                problem = driverVersion == 0
                        ? "no NVIDIA driver (" + errorText(err) + ")"
                        : "no usable device (" + errorText(err) + ")";
            } else {
                int count = out.get(C_INT, 0);
                MemorySegment prop = arena.allocate(cudaDeviceProp.layout());
                for (int i = 0; i < count; i++) {
                    check(cuda_h.cudaGetDeviceProperties(prop, i), "cudaGetDeviceProperties(" + i + ")");
                    devices.add(new Device(
                            i,
                            cudaDeviceProp.name(prop).getString(0),
                            cudaDeviceProp.major(prop),
                            cudaDeviceProp.minor(prop),
                            cudaDeviceProp.totalGlobalMem(prop),
                            cudaDeviceProp.multiProcessorCount(prop)));
                }
                if (count == 0) {
                    problem = "the driver sees no device";
                }
            }
            for (CudaLibraries.Found f : libs) {
                if (problem == null && !f.ok()) {
                    problem = f.file() + " " + f.problem();
                }
            }
            return new Status(libs, runtimeVersion, driverVersion, List.copyOf(devices), problem);
        } catch (RuntimeException | LinkageError e) {
            return new Status(libs, 0, 0, List.of(), "the CUDA runtime failed to answer: " + e.getMessage());
        }
    }

    /** Throws {@link CudaException} naming {@code call} unless {@code err} is {@code cudaSuccess}. */
    public static void check(int err, String call) {
        if (err != cuda_h.cudaSuccess()) {
            throw new CudaException(call + ": " + errorText(err), err);
        }
    }

    /** {@code cudaErrorNoDevice (no CUDA-capable device is detected)}. */
    public static String errorText(int err) {
        return cuda_h.cudaGetErrorName(err).reinterpret(256).getString(0) + " ("
                + cuda_h.cudaGetErrorString(err).reinterpret(1024).getString(0) + ")";
    }

    /** 13000 → "13.0". */
    public static String versionText(int version) {
        return version == 0 ? "none" : version / 1000 + "." + version % 1000 / 10;
    }
}
