package org.tessera.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.Map;
import org.tessera.engine.io.WeightFile;
import org.tessera.engine.io.WeightsFormatException;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/**
 * {@code tessera inspect WEIGHTS}: names, dtypes, shapes and the parameter count of a safetensors
 * file or a PyTorch checkpoint.
 */
@Command(
        name = "inspect",
        mixinStandardHelpOptions = true,
        header = "List the tensors of a weights file and its parameter count.",
        description = "List the tensors of a safetensors file or a PyTorch checkpoint (.pt, .pth, .bin: read"
                + " without Python): name, dtype, shape; and the parameter count.")
final class InspectCommand implements java.util.concurrent.Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", paramLabel = "WEIGHTS", description = "A .safetensors file or a PyTorch checkpoint.")
    Path file;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        WeightFile opened;
        try {
            opened = WeightFile.open(file);
        } catch (java.io.IOException | WeightsFormatException e) {
            // A bad input file, as when run meets it in a script: exit 2, like a compile error.
            spec.commandLine().getErr().println("tessera: error: " + TesseraCommand.describe(e));
            return TesseraCommand.EXIT_USAGE;
        }
        try (WeightFile r = opened) {
            int width = r.names().stream().mapToInt(String::length).max().orElse(4);
            long total = 0;
            for (String name : r.names()) {
                int[] shape = r.shape(name);
                long n = Arrays.stream(shape).asLongStream().reduce(1, (a, b) -> a * b);
                total += n;
                out.printf(
                        Locale.ROOT,
                        "%-" + width + "s  %-4s  %s%n",
                        name,
                        r.dtype(name).shortName(),
                        Arrays.toString(shape));
            }
            for (Map.Entry<String, String> m : r.metadata().entrySet()) {
                out.printf(Locale.ROOT, "metadata %s = %s%n", m.getKey(), m.getValue());
            }
            out.printf(Locale.ROOT, "%d tensors, %,d parameters%n", r.names().size(), total);
        }
        return TesseraCommand.EXIT_OK;
    }
}
