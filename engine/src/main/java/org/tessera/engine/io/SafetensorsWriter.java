package org.tessera.engine.io;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Map;
import java.util.SequencedMap;
import org.tessera.engine.tensor.Tensor;

/**
 * Writes tensors and string metadata as a safetensors file, atomically: the bytes go to a hidden
 * temporary file in the target's directory, forced to disk and then renamed over the target (see
 * {@link OutputSet}). An error or an interrupt therefore leaves either the old file or the
 * complete new one, never a half-written file, and no temporary file.
 *
 * <p>Tensors are stored in map order, each in row-major order as its own dtype (strided views
 * are made contiguous first). The header is padded with spaces to a multiple of 8 bytes so the
 * data region is 8-byte aligned, as the reference implementation does. Data is written in the
 * platform's byte order, which the engine assumes to be little-endian like the format.
 */
public final class SafetensorsWriter {
    private static final int CHUNK = 1 << 30;

    private SafetensorsWriter() {}

    /** Writes {@code tensors} with no metadata. */
    public static void write(Path path, SequencedMap<String, Tensor> tensors) throws IOException {
        write(path, tensors, Map.of());
    }

    /**
     * Writes {@code tensors} and {@code metadata} to {@code path}, replacing any existing file; the
     * file appears whole or not at all.
     *
     * @throws IOException naming {@code path} if it cannot be written
     * @throws IllegalArgumentException if a tensor is named {@code __metadata__}
     */
    public static void write(Path path, SequencedMap<String, Tensor> tensors, Map<String, String> metadata)
            throws IOException {
        try (OutputSet set = OutputSet.open()) {
            write(path, tensors, metadata, set);
            set.commit();
        }
    }

    /**
     * Writes {@code tensors} and {@code metadata} as {@code path} into {@code set}: the file
     * appears when the set commits, together with the set's other files.
     *
     * @throws IOException naming {@code path} if it cannot be written
     * @throws IllegalArgumentException if a tensor is named {@code __metadata__}
     */
    public static void write(
            Path path, SequencedMap<String, Tensor> tensors, Map<String, String> metadata, OutputSet set)
            throws IOException {
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            e.getValue().requireHost("write '" + e.getKey() + "'");
        }
        byte[] header = header(tensors, metadata);
        Path tmp = set.stage(path);
        try (FileChannel out = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
            ByteBuffer length =
                    ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, header.length);
            writeFully(out, length);
            writeFully(out, ByteBuffer.wrap(header));
            for (Tensor t : tensors.values()) {
                Tensor c = t.contiguous();
                long bytes = c.numel() * c.dtype().byteSize();
                MemorySegment data = c.storage().asSlice(c.byteOffset(), bytes);
                for (long off = 0; off < bytes; off += CHUNK) {
                    writeFully(
                            out, data.asSlice(off, Math.min(CHUNK, bytes - off)).asByteBuffer());
                }
            }
            out.force(true);
        } catch (IOException e) {
            throw new IOException("cannot write safetensors file " + path + ": " + e, e);
        }
    }

    private static void writeFully(FileChannel out, ByteBuffer buffer) throws IOException {
        while (buffer.hasRemaining()) {
            out.write(buffer);
        }
    }

    /** The JSON header, space-padded so that 8 + its length is a multiple of 8. */
    static byte[] header(SequencedMap<String, Tensor> tensors, Map<String, String> metadata) {
        StringBuilder sb = new StringBuilder("{");
        boolean first = true;
        if (!metadata.isEmpty()) {
            sb.append("\"__metadata__\":{");
            boolean firstMeta = true;
            // Sorted by key: the same tensors and metadata give the same bytes, whatever the map's order.
            for (Map.Entry<String, String> e : new java.util.TreeMap<>(metadata).entrySet()) {
                if (!firstMeta) {
                    sb.append(',');
                }
                firstMeta = false;
                Json.writeString(sb, e.getKey());
                sb.append(':');
                Json.writeString(sb, e.getValue());
            }
            sb.append('}');
            first = false;
        }
        long offset = 0;
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            String name = e.getKey();
            Tensor t = e.getValue();
            if (name.equals("__metadata__")) {
                throw new IllegalArgumentException("safetensors: a tensor cannot be named __metadata__");
            }
            long bytes = t.numel() * t.dtype().byteSize();
            if (!first) {
                sb.append(',');
            }
            first = false;
            Json.writeString(sb, name);
            sb.append(":{\"dtype\":\"").append(t.dtype().name()).append("\",\"shape\":[");
            int[] shape = t.shape();
            for (int i = 0; i < shape.length; i++) {
                sb.append(i > 0 ? "," : "").append(shape[i]);
            }
            sb.append("],\"data_offsets\":[")
                    .append(offset)
                    .append(',')
                    .append(offset + bytes)
                    .append("]}");
            offset += bytes;
        }
        sb.append('}');
        byte[] json = sb.toString().getBytes(StandardCharsets.UTF_8);
        int padded = (json.length + 7) & ~7; // 8 + padded is then a multiple of 8
        byte[] out = Arrays.copyOf(json, padded);
        Arrays.fill(out, json.length, padded, (byte) ' ');
        return out;
    }
}
