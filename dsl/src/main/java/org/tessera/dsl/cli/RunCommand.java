package org.tessera.dsl.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.tessera.dsl.CompileOptions;
import org.tessera.dsl.Pipeline;
import org.tessera.dsl.Tessera;
import org.tessera.dsl.pipeline.OutputWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code tessera run FILE}: compile a pipeline and run it, writing its outputs. */
@Command(name = "run", mixinStandardHelpOptions = true,
        description = {"Compile a .tess pipeline and run it: one forward pass (pipelines with 'inputs')",
            "or sampling, then write the pipeline's outputs into the output folder."})
final class RunCommand implements java.util.concurrent.Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", paramLabel = "FILE", description = "The .tess script.")
    Path file;

    @Option(names = "--seed", description = "Seed for the noise (default: the pipeline's 'seed', else 0).")
    Long seed;

    @Option(names = "--out", defaultValue = "out", description = "Output folder (default: ${DEFAULT-VALUE}).")
    Path out;

    @Option(names = "--pipeline", description = "Which pipeline of the file to run (default: the first).")
    String pipeline;

    @Option(names = "--device", defaultValue = "auto", description = "cpu, cuda or auto (default: ${DEFAULT-VALUE}).")
    String device;

    @Option(names = "--precision", defaultValue = "fp32",
            description = "GPU matrix products in fp32, tf32 or bf16 (default: ${DEFAULT-VALUE}; the CPU computes in fp32).")
    String precision;

    @Option(names = "--threads", defaultValue = "0", description = "CPU threads (default: all processors).")
    int threads;

    @Option(names = "--set", paramLabel = "KEY=VALUE", description = "Override a pipeline setting, e.g. --set 'sampler=ddim(steps = 10)'.")
    Map<String, String> overrides = new LinkedHashMap<>();

    @Override
    public Integer call() throws IOException {
        PrintWriter err = spec.commandLine().getErr();
        PrintWriter outWriter = spec.commandLine().getOut();
        CliChecks.device(device);
        CliChecks.precision(precision);
        CliChecks.threads(threads);
        OutputWriter.checkWritable(out); // fail before compiling or sampling, not after
        CompileOptions options = CompileOptions.defaults().withThreads(threads).withOverrides(overrides)
                .withPipeline(pipeline).withDevice(device).withPrecision(precision);
        long t0 = System.nanoTime();
        try (Pipeline p = Tessera.compile(file, options)) {
            long compiled = System.nanoTime();
            err.printf(Locale.ROOT, "compiled %s (%s) in %.2fs: %.1f GFLOP per forward, %s of buffers%n",
                    p.settings().name(), p.modelName(), (compiled - t0) / 1e9, p.graph().flops() / 1e9,
                    Sizes.bytes(p.graph().bufferBytes()));
            long s = seed != null ? seed : p.settings().seed();
            List<Path> files = p.execute(out, s, new Progress(err, System.console() != null));
            err.printf(Locale.ROOT, "done in %.2fs%n", (System.nanoTime() - compiled) / 1e9);
            for (Path f : files) {
                outWriter.println(f);
            }
        }
        return TesseraCommand.EXIT_OK;
    }
}
