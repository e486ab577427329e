package org.tessera.dsl;

import java.util.Map;

/**
 * How to compile a script.
 *
 * @param pipeline which pipeline of the file to build; null for the first
 * @param overrides {@code key=value} settings that replace the script's (like {@code --set})
 * @param threads CPU threads for the kernels; 0 for all processors
 * @param device {@code cpu}, {@code cuda} or {@code auto}
 */
public record CompileOptions(String pipeline, Map<String, String> overrides, int threads, String device) {
    public CompileOptions {
        overrides = Map.copyOf(overrides);
        if (threads < 0) {
            throw new IllegalArgumentException("threads must be >= 0, got " + threads);
        }
    }

    /** The first pipeline, all processors, the CPU. */
    public static CompileOptions defaults() {
        return new CompileOptions(null, Map.of(), 0, "auto");
    }

    public CompileOptions withThreads(int n) {
        return new CompileOptions(pipeline, overrides, n, device);
    }

    public CompileOptions withOverrides(Map<String, String> o) {
        return new CompileOptions(pipeline, o, threads, device);
    }

    public CompileOptions withPipeline(String name) {
        return new CompileOptions(name, overrides, threads, device);
    }

    public CompileOptions withDevice(String d) {
        return new CompileOptions(pipeline, overrides, threads, d);
    }

    int threadCount() {
        return threads == 0 ? Runtime.getRuntime().availableProcessors() : threads;
    }
}
