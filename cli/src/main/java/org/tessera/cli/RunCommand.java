package org.tessera.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import org.tessera.runtime.CompileOptions;
import org.tessera.runtime.Pipeline;
import org.tessera.runtime.Tessera;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code tessera run FILE}: compile a pipeline and run it, writing its outputs. */
@Command(
        name = "run",
        mixinStandardHelpOptions = true,
        header = "Compile a .tess pipeline and run it, writing its outputs.",
        description = {
            "Compile a .tess pipeline and run it: one forward pass (pipelines with 'inputs')",
            "or sampling, then write the pipeline's outputs into the output folder."
        })
final class RunCommand implements java.util.concurrent.Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", paramLabel = "FILE", description = "The .tess script.")
    Path file;

    @Option(names = "--seed", description = "Seed for the noise (default: the pipeline's 'seed', else 0).")
    Long seed;

    @Option(names = "--out", defaultValue = "out", description = "Output folder (default: ${DEFAULT-VALUE}).")
    Path out;

    @CommandLine.Mixin
    PipelineOptions options;

    @Override
    public Integer call() throws IOException {
        PrintWriter err = spec.commandLine().getErr();
        PrintWriter outWriter = spec.commandLine().getOut();
        Tessera.checkWritable(out); // fail before compiling or sampling, not after
        CompileOptions compileOptions = options.compileOptions();
        long t0 = System.nanoTime();
        try (Pipeline p = Tessera.compile(file, compileOptions)) {
            long compiled = System.nanoTime();
            err.printf(
                    Locale.ROOT,
                    "compiled %s (%s) in %.2fs: %s per forward, %s of buffers%n",
                    p.name(),
                    p.modelName(),
                    (compiled - t0) / 1e9,
                    Sizes.flops(p.graph().flops()),
                    Sizes.bytes(p.graph().bufferBytes()));
            long s = seed != null ? seed : p.defaultSeed();
            // Ctrl-C: the JVM runs its shutdown hooks; the engine's removes the outputs not yet
            // committed (a run's outputs appear all together or not at all), this one says so.
            Thread interrupted = new Thread(() -> {
                err.println();
                err.println("tessera: interrupted; outputs not yet written in full are removed");
                err.flush();
            });
            Runtime.getRuntime().addShutdownHook(interrupted);
            List<Path> files;
            try {
                files = p.execute(out, s, new Progress(err, Progress.onTerminal()));
            } finally {
                try {
                    Runtime.getRuntime().removeShutdownHook(interrupted);
                } catch (IllegalStateException shuttingDown) {
                    // interrupted while finishing: the hook runs
                }
            }
            err.printf(Locale.ROOT, "done in %.2fs%n", (System.nanoTime() - compiled) / 1e9);
            for (Path f : files) {
                outWriter.println(f);
            }
        }
        return TesseraCommand.EXIT_OK;
    }
}
