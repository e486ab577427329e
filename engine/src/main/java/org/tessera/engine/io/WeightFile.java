package org.tessera.engine.io;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.SequencedSet;
import org.tessera.engine.io.torch.TorchCheckpointReader;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Tensor;

/**
 * A checkpoint's named tensors, whatever the file format: safetensors ({@link SafetensorsReader})
 * or a PyTorch checkpoint ({@link TorchCheckpointReader}: the zip archive {@code torch.save} writes,
 * or its legacy format). Tensors are views of the memory-mapped file where the format allows, valid
 * until {@link #close()}.
 */
public interface WeightFile extends AutoCloseable {
    /** The file. */
    Path path();

    /** Tensor names, in the file's order. */
    SequencedSet<String> names();

    /** True if the file holds a tensor called {@code name}. */
    boolean contains(String name);

    DType dtype(String name);

    int[] shape(String name);

    /** The tensor called {@code name}, read-only. */
    Tensor tensor(String name);

    /** Text metadata (empty when the format or the file has none). */
    Map<String, String> metadata();

    /** Unmaps the file; its tensors must not be used afterwards. */
    @Override
    void close();

    /**
     * Opens {@code path} by what its first bytes say it is, not by its name: a zip archive or a
     * pickle is a PyTorch checkpoint (.pt, .pth, .bin, .ckpt), anything else is read as
     * safetensors. Every entry is validated before this returns.
     *
     * @throws IOException if the file cannot be read
     * @throws WeightsFormatException naming the file (and the tensor) when it is malformed
     */
    static WeightFile open(Path path) throws IOException {
        if (Files.isRegularFile(path)) {
            byte[] head = new byte[9];
            int n;
            try (InputStream in = Files.newInputStream(path)) {
                n = in.readNBytes(head, 0, head.length);
            }
            if (TorchCheckpointReader.looksLikeTorch(head, n)) {
                return TorchCheckpointReader.open(path);
            }
        }
        return SafetensorsReader.open(path);
    }
}
