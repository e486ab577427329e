package org.tessera.runtime;

import java.util.Map;
import org.tessera.engine.device.DeviceChoice;
import org.tessera.engine.device.Precision;

/**
 * How to compile a script.
 *
 * @param pipeline which pipeline of the file to build; null for the first
 * @param overrides {@code key=value} settings that replace the script's (like {@code --set})
 * @param threads CPU threads for the kernels; 0 for all processors
 * @param device where the model runs: {@code CPU}, {@code CUDA} (an error when no GPU can be
 *     used) or {@code AUTO} (the GPU when CUDA is usable, else the CPU)
 * @param precision how a GPU computes matrix products (the CPU always computes in fp32)
 */
public record CompileOptions(
        String pipeline, Map<String, String> overrides, int threads, DeviceChoice device, Precision precision) {
    /**
     * The most threads a caller may ask for: four per processor. More only adds switching (the
     * kernels split work by output rows), and a count like 1000 is a typing mistake.
     */
    public static int maxThreads() {
        return 4 * Runtime.getRuntime().availableProcessors();
    }

    public CompileOptions {
        overrides = Map.copyOf(overrides);
        if (threads < 0 || threads > maxThreads()) {
            throw new IllegalArgumentException(
                    "threads must be 0 (all processors) to " + maxThreads() + " (four per processor), got " + threads);
        }
        java.util.Objects.requireNonNull(device, "device");
        java.util.Objects.requireNonNull(precision, "precision");
    }

    /** The first pipeline, all processors, {@code AUTO} device, fp32. */
    public static CompileOptions defaults() {
        return new CompileOptions(null, Map.of(), 0, DeviceChoice.AUTO, Precision.FP32);
    }

    public CompileOptions withThreads(int n) {
        return new CompileOptions(pipeline, overrides, n, device, precision);
    }

    public CompileOptions withOverrides(Map<String, String> o) {
        return new CompileOptions(pipeline, o, threads, device, precision);
    }

    public CompileOptions withPipeline(String name) {
        return new CompileOptions(name, overrides, threads, device, precision);
    }

    public CompileOptions withDevice(DeviceChoice d) {
        return new CompileOptions(pipeline, overrides, threads, d, precision);
    }

    /** {@link #withDevice(DeviceChoice)} from {@code cpu}, {@code cuda} or {@code auto}. */
    public CompileOptions withDevice(String d) {
        return withDevice(DeviceChoice.parse(d));
    }

    public CompileOptions withPrecision(Precision p) {
        return new CompileOptions(pipeline, overrides, threads, device, p);
    }

    /** {@link #withPrecision(Precision)} from {@code fp32}, {@code tf32} or {@code bf16}. */
    public CompileOptions withPrecision(String p) {
        return withPrecision(Precision.parse(p));
    }

    /** The thread count to start: {@link #threads()}, or all processors for 0. */
    public int threadCount() {
        return threads == 0 ? Runtime.getRuntime().availableProcessors() : threads;
    }
}
