package org.tessera.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.Map;
import org.tessera.engine.io.PngText;
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
        header = "List the tensors of a weights file, or how an image was made.",
        description = {
            "List the tensors of a safetensors file or a PyTorch checkpoint (.pt, .pth, .bin: read without"
                    + " Python): name, dtype, shape; and the parameter count.",
            "Given a PNG that tessera run wrote, print what it records: pipeline, model, seed, sampler, steps,"
                    + " guidance."
        })
final class InspectCommand implements java.util.concurrent.Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", paramLabel = "FILE", description = "A .safetensors file, a PyTorch checkpoint, or a PNG.")
    Path file;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        if (isPng(file)) {
            return png(out);
        }
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

    private static boolean isPng(Path file) {
        try (java.io.InputStream in = java.nio.file.Files.newInputStream(file)) {
            return PngText.isPng(in.readNBytes(8));
        } catch (java.io.IOException e) {
            return false; // the weights path reports it
        }
    }

    /** An image Tessera wrote: its size and the text it carries (pipeline, seed, sampler, steps, guidance). */
    private int png(PrintWriter out) {
        try {
            PngText.Png png = PngText.read(file);
            Map<String, String> text = png.text();
            out.printf(Locale.ROOT, "%s: PNG, %d×%d%n", file, png.width(), png.height());
            int width = text.keySet().stream().mapToInt(String::length).max().orElse(4);
            text.forEach((k, v) -> out.printf(Locale.ROOT, "%-" + width + "s  %s%n", k, v));
            if (text.isEmpty()) {
                out.println("(no text chunks: not written by Tessera, or written without metadata)");
            }
            return TesseraCommand.EXIT_OK;
        } catch (java.io.IOException | WeightsFormatException e) {
            spec.commandLine().getErr().println("tessera: error: " + TesseraCommand.describe(e));
            return TesseraCommand.EXIT_USAGE;
        }
    }
}
