package org.tessera.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.SequencedMap;
import org.tessera.engine.io.SafetensorsWriter;
import org.tessera.engine.io.WeightFile;
import org.tessera.engine.io.WeightsFormatException;
import org.tessera.engine.io.torch.TorchCheckpointReader;
import org.tessera.engine.tensor.Tensor;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code tessera convert IN OUT.safetensors}: a PyTorch checkpoint (or a safetensors file) rewritten
 * as safetensors, tensor names and dtypes unchanged, without Python. Pipelines read .pt files
 * directly; converting once makes later loads a plain memory map.
 */
@Command(
        name = "convert",
        mixinStandardHelpOptions = true,
        header = "Convert a PyTorch checkpoint to safetensors.",
        description = {
            "Rewrite a PyTorch checkpoint (.pt, .pth, .bin, .ckpt; the zip archive torch.save writes, or its"
                    + " legacy format) as a safetensors file, read without Python through an unpickler that"
                    + " accepts only what a state dict uses. Names and dtypes are kept.",
            "A checkpoint holding several dicts (DiT's training checkpoints: model, ema, opt, args) gives its"
                    + " \"ema\" weights, else \"model\", \"state_dict\" or \"module\"; --select picks another."
        })
final class ConvertCommand implements java.util.concurrent.Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", paramLabel = "IN", description = "A PyTorch checkpoint or a safetensors file.")
    Path in;

    @Parameters(index = "1", paramLabel = "OUT", description = "The .safetensors file to write (atomically).")
    Path out;

    @Option(
            names = "--select",
            paramLabel = "KEY",
            description = "The top-level key whose dict holds the weights, e.g. model (default: the top level"
                    + " when it holds tensors, else ema, model, state_dict, module).")
    String select;

    @Override
    public Integer call() {
        PrintWriter err = spec.commandLine().getErr();
        if (!out.getFileName().toString().endsWith(".safetensors")) {
            err.println("tessera: error: " + out + ": the output must be a .safetensors file");
            return TesseraCommand.EXIT_USAGE;
        }
        WeightFile file;
        try {
            file = select == null ? WeightFile.open(in) : TorchCheckpointReader.open(in, select);
        } catch (IOException | WeightsFormatException e) {
            err.println("tessera: error: " + TesseraCommand.describe(e));
            return TesseraCommand.EXIT_USAGE;
        }
        try (WeightFile r = file) {
            SequencedMap<String, Tensor> tensors = new LinkedHashMap<>();
            long parameters = 0;
            for (String name : r.names()) {
                Tensor t = r.tensor(name);
                tensors.put(name, t);
                parameters += t.numel();
            }
            Map<String, String> metadata = new LinkedHashMap<>(r.metadata());
            metadata.put("converted_from", in.getFileName().toString());
            SafetensorsWriter.write(out, tensors, metadata);
            spec.commandLine()
                    .getOut()
                    .printf(
                            Locale.ROOT,
                            "%s: %d tensors, %,d parameters%s%n",
                            out,
                            tensors.size(),
                            parameters,
                            r.metadata().containsKey("state_dict")
                                    ? " (the \"" + r.metadata().get("state_dict") + "\" weights)"
                                    : "");
        } catch (IOException e) {
            err.println("tessera: error: " + TesseraCommand.describe(e));
            return TesseraCommand.EXIT_RUNTIME;
        }
        return TesseraCommand.EXIT_OK;
    }
}
