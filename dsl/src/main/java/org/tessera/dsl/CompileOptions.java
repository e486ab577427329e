package org.tessera.dsl;

import java.util.Map;

/**
 * How to compile a script.
 *
 * @param pipeline which pipeline of the file to build; null for the first
 * @param overrides {@code key=value} settings that replace the script's (like {@code --set})
 * @param threads CPU threads for the kernels; 0 for all processors
 * @param device {@code cpu}, {@code cuda} or {@code auto}
 * @param precision how a GPU computes matrix products: {@code fp32}, {@code tf32} or {@code bf16}
 *     (the CPU always computes in fp32)
 */
public record CompileOptions(String pipeline, Map<String, String> overrides, int threads, String device, String precision) {
    public CompileOptions {
        overrides = Map.copyOf(overrides);
        if (threads < 0) {
            throw new IllegalArgumentException("threads must be >= 0, got " + threads);
        }
        if (!"cpu".equals(device) && !"cuda".equals(device) && !"auto".equals(device)) {
            throw new IllegalArgumentException("device must be cpu, cuda or auto, got '" + device + "'");
        }
        if (!"fp32".equals(precision) && !"tf32".equals(precision) && !"bf16".equals(precision)) {
            throw new IllegalArgumentException("precision must be fp32, tf32 or bf16, got '" + precision + "'");
        }
    }

    public CompileOptions(String pipeline, Map<String, String> overrides, int threads, String device) {
        this(pipeline, overrides, threads, device, "fp32");
    }

    /** The first pipeline, all processors, the CPU. */
    public static CompileOptions defaults() {
        return new CompileOptions(null, Map.of(), 0, "auto", "fp32");
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

    public CompileOptions withDevice(String d) {
        return new CompileOptions(pipeline, overrides, threads, d, precision);
    }

    /** Products on the GPU in {@code p}: fp32, tf32 or bf16. */
    public CompileOptions withPrecision(String p) {
        return new CompileOptions(pipeline, overrides, threads, device, p);
    }

    int threadCount() {
        return threads == 0 ? Runtime.getRuntime().availableProcessors() : threads;
    }
}
