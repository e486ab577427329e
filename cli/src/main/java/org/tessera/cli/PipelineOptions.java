package org.tessera.cli;

import java.util.LinkedHashMap;
import java.util.Map;
import org.tessera.runtime.CompileOptions;
import picocli.CommandLine.Option;

/**
 * The options of every command that compiles a pipeline ({@code run}, {@code bench FILE}),
 * declared once. Values are checked by {@link CompileOptions}: a bad one is a usage error (exit 2).
 */
final class PipelineOptions {
    @Option(names = "--pipeline", description = "Which pipeline of the file (default: the first).")
    String pipeline;

    @Option(
            names = "--device",
            defaultValue = "auto",
            description = "cpu, cuda or auto (default: ${DEFAULT-VALUE}:"
                    + " the GPU when CUDA 13, a driver and a GPU are present, else the CPU).")
    String device;

    @Option(
            names = "--precision",
            defaultValue = "fp32",
            description =
                    "GPU matrix products in fp32, tf32 or bf16 (default: ${DEFAULT-VALUE}; the CPU computes in fp32).")
    String precision;

    @Option(names = "--threads", defaultValue = "0", description = "CPU threads (default: all processors).")
    int threads;

    @Option(
            names = "--set",
            paramLabel = "KEY=VALUE",
            description = "Override a pipeline setting, e.g. --set 'sampler=ddim(steps = 10)' or --set guidance=none.")
    Map<String, String> overrides = new LinkedHashMap<>();

    CompileOptions compileOptions() {
        try {
            return CompileOptions.defaults()
                    .withThreads(threads)
                    .withDevice(device)
                    .withPrecision(precision)
                    .withPipeline(pipeline)
                    .withOverrides(overrides);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--" + e.getMessage(), e);
        }
    }
}
