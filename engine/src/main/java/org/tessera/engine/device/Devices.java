package org.tessera.engine.device;

import java.util.function.Consumer;
import org.tessera.engine.backend.Backend;
import org.tessera.engine.backend.Backends;
import org.tessera.engine.cuda.CudaBackend;
import org.tessera.engine.cuda.CudaDevice;
import org.tessera.engine.cuda.CudaUnavailableException;
import org.tessera.engine.parallel.WorkerPool;
import org.tessera.ffi.Cuda;
import org.tessera.ffi.CudaException;

/**
 * The one place that chooses and opens a device, asked by the command line and the embedding API
 * alike (the jvector way): {@link DeviceChoice#AUTO} takes GPU 0 when CUDA is usable and falls back
 * to the CPU otherwise, with one warning line when CUDA is present but fails to start;
 * {@link DeviceChoice#CUDA} that cannot start is an error, never a silent fallback.
 */
public final class Devices {
    private Devices() {}

    /**
     * Opens the device for {@code choice}.
     *
     * @param threads CPU threads for the host backend (at least 1)
     * @param warn where the single fallback warning line goes (e.g. {@code System.err::println})
     * @throws DeviceUnavailableException when {@code choice} is {@link DeviceChoice#CUDA} and no
     *     GPU can be used, saying why
     */
    public static ComputeDevice open(DeviceChoice choice, Precision precision, int threads, Consumer<String> warn) {
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be at least 1, got " + threads);
        }
        WorkerPool pool = new WorkerPool(threads);
        boolean ok = false;
        try {
            Backend host = Backends.cpu(pool, warn);
            CudaDevice gpu = openGpu(choice, warn);
            if (gpu == null && precision != Precision.FP32 && choice != DeviceChoice.CPU) {
                warn.accept("tessera: warning: --precision " + precision.label()
                        + " applies to the GPU; the CPU computes in fp32");
            }
            ComputeDevice d = null;
            if (gpu != null) {
                try {
                    d = new ComputeDevice(
                            host, CudaBackend.create(gpu, CudaBackend.Precision.valueOf(precision.name())), gpu);
                } catch (RuntimeException e) {
                    gpu.close();
                    if (choice == DeviceChoice.CUDA) {
                        throw e;
                    }
                    warnFallback(e, warn); // auto must not fail where the CPU would work
                }
            }
            if (d == null) {
                d = new ComputeDevice(host, host, null);
            }
            ok = true;
            return d;
        } finally {
            if (!ok) {
                pool.close();
            }
        }
    }

    /** True when CUDA 13, a driver and a GPU are present ({@link DeviceChoice#AUTO} would take the GPU). */
    public static boolean cudaAvailable() {
        return Cuda.probe().available();
    }

    /** Why CUDA cannot be used here, in words, or null when it can. */
    public static String cudaProblem() {
        Cuda.Status s = Cuda.probe();
        return s.available() ? null : s.problem();
    }

    /** What the CPU backend would be here, in words (for {@code tessera doctor}). */
    public static String describeCpu() {
        return Backends.describeCpu();
    }

    private static CudaDevice openGpu(DeviceChoice choice, Consumer<String> warn) {
        if (choice == DeviceChoice.CPU
                || choice == DeviceChoice.AUTO && !Cuda.probe().available()) {
            return null;
        }
        try {
            return CudaDevice.open(0);
        } catch (CudaUnavailableException | CudaException e) {
            if (choice == DeviceChoice.CUDA) {
                throw new DeviceUnavailableException("--device cuda: " + e.getMessage(), e);
            }
            warnFallback(e, warn);
            return null;
        } catch (RuntimeException e) {
            // auto must not fail where the CPU would work: a kernel cache or setup problem falls back.
            if (choice == DeviceChoice.CUDA) {
                throw e;
            }
            warnFallback(e, warn);
            return null;
        }
    }

    private static void warnFallback(RuntimeException e, Consumer<String> warn) {
        String first = e.getMessage() == null
                ? e.getClass().getSimpleName()
                : e.getMessage().lines().findFirst().orElse("");
        warn.accept("tessera: warning: CUDA is present but could not start (" + first + "); running on the CPU");
    }
}
