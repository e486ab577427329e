package org.tessera.engine.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The text of a PNG's tEXt chunks: how Tessera records, in each image it writes, the pipeline,
 * seed, sampler, steps and guidance that made it ({@code tessera inspect image.png} prints them).
 * Read straight from the chunk stream, bounded by the file: a damaged PNG gives an error naming
 * the file.
 */
public final class PngText {
    static final String NATIVE_FORMAT = "javax_imageio_png_1.0";
    private static final byte[] SIGNATURE = {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    /** PNGs are read whole; a metadata read of a larger file is refused. */
    private static final long MAX_BYTES = 256L << 20;

    private PngText() {}

    /** A PNG's size (from its IHDR chunk) and its tEXt pairs in file order. */
    public record Png(int width, int height, Map<String, String> text) {}

    /** True when {@code head} starts with the PNG signature. */
    public static boolean isPng(byte[] head) {
        if (head.length < SIGNATURE.length) {
            return false;
        }
        for (int i = 0; i < SIGNATURE.length; i++) {
            if (head[i] != SIGNATURE[i]) {
                return false;
            }
        }
        return true;
    }

    /**
     * {@code file}'s size and the keyword → text pairs of its tEXt chunks, in file order.
     *
     * @throws WeightsFormatException naming the file when it is not a well-formed PNG
     */
    public static Png read(Path file) throws IOException {
        if (Files.size(file) > MAX_BYTES) {
            throw new WeightsFormatException(file + ": a PNG of " + Files.size(file) + " bytes is too large to read");
        }
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(file)); // big-endian, as PNG is
        byte[] head = new byte[Math.min(8, b.remaining())];
        b.get(head);
        if (!isPng(head)) {
            throw new WeightsFormatException(file + ": not a PNG file");
        }
        Map<String, String> out = new LinkedHashMap<>();
        int width = -1;
        int height = -1;
        while (b.remaining() >= 12) {
            long length = b.getInt() & 0xFFFFFFFFL;
            byte[] type = new byte[4];
            b.get(type);
            if (length > b.remaining() - 4) {
                throw new WeightsFormatException(file + ": a PNG chunk runs past the end of the file");
            }
            byte[] data = new byte[(int) length];
            b.get(data);
            b.getInt(); // CRC
            String t = new String(type, StandardCharsets.ISO_8859_1);
            if (t.equals("IHDR") && data.length >= 8) {
                ByteBuffer ihdr = ByteBuffer.wrap(data);
                width = ihdr.getInt();
                height = ihdr.getInt();
            } else if (t.equals("tEXt")) {
                int nul = 0;
                while (nul < data.length && data[nul] != 0) {
                    nul++;
                }
                String key = new String(data, 0, nul, StandardCharsets.ISO_8859_1);
                String value = nul < data.length
                        ? new String(data, nul + 1, data.length - nul - 1, StandardCharsets.ISO_8859_1)
                        : "";
                out.put(key, value);
            } else if (t.equals("IEND")) {
                break;
            }
        }
        if (width <= 0 || height <= 0) {
            throw new WeightsFormatException(file + ": a PNG without a valid IHDR chunk");
        }
        return new Png(width, height, out);
    }

    /** A PNG keyword: 1–79 Latin-1 printable characters. */
    static String keyword(String key) {
        StringBuilder sb = new StringBuilder();
        for (char c : key.toCharArray()) {
            sb.append(c >= 32 && c <= 126 || c >= 161 && c <= 255 ? c : '_');
        }
        String k = sb.toString().strip();
        return k.isEmpty() ? "key" : k.substring(0, Math.min(79, k.length()));
    }
}
