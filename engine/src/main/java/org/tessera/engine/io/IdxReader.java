package org.tessera.engine.io;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.zip.GZIPInputStream;

/**
 * Reads IDX files, the format of MNIST and Fashion-MNIST ({@code train-images-idx3-ubyte},
 * gzipped or not): a magic number {@code 00 00 TT RR} (TT the element type, RR the rank), RR
 * big-endian int32 sizes, then the elements row-major. Only unsigned bytes (type 0x08) are read,
 * which is what these datasets hold. The sizes are checked against the data before anything is
 * allocated, so a truncated or hostile file is an error naming the file.
 */
public final class IdxReader {
    /** The most elements accepted: 2^31 − 1, far above MNIST's 47 M. */
    private static final long MAX_ELEMENTS = Integer.MAX_VALUE;

    private IdxReader() {}

    /**
     * An IDX file's contents.
     *
     * @param shape the sizes, e.g. [60000, 28, 28]
     * @param data the elements, unsigned bytes row-major
     */
    public record Idx(int[] shape, byte[] data) {
        /** Element {@code i}, 0..255. */
        public int unsigned(long i) {
            return data[(int) i] & 0xff;
        }
    }

    /** Reads {@code file} (a {@code .gz} is decompressed). */
    public static Idx read(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new IOException(file + ": " + (Files.exists(file) ? "not a regular file" : "no such file"));
        }
        byte[] bytes;
        try (InputStream raw = Files.newInputStream(file);
                InputStream in = file.toString().endsWith(".gz") ? new GZIPInputStream(raw) : raw) {
            bytes = readBounded(in, file);
        } catch (java.util.zip.ZipException e) {
            throw new IOException(file + ": not a valid gzip file (" + e.getMessage() + ")", e);
        }
        if (bytes.length < 4) {
            throw new IOException(file + ": " + bytes.length + " bytes, too short for an IDX header");
        }
        ByteBuffer b = ByteBuffer.wrap(bytes); // big-endian, as IDX is
        int magic = b.getInt();
        int type = (magic >>> 8) & 0xff;
        int rank = magic & 0xff;
        if ((magic >>> 16) != 0 || rank == 0) {
            throw new IOException(file + ": not an IDX file (magic number 0x" + Integer.toHexString(magic) + ")");
        }
        if (type != 0x08) {
            throw new IOException(file + ": IDX element type 0x" + Integer.toHexString(type)
                    + " is not unsigned bytes (0x08), the only type read");
        }
        if (bytes.length < 4 + 4L * rank) {
            throw new IOException(file + ": the header of " + rank + " sizes runs past the end of the file");
        }
        int[] shape = new int[rank];
        long n = 1;
        for (int i = 0; i < rank; i++) {
            shape[i] = b.getInt();
            if (shape[i] < 0) {
                throw new IOException(file + ": size " + i + " is negative (" + shape[i] + ")");
            }
            n *= shape[i];
            if (n > MAX_ELEMENTS) {
                throw new IOException(file + ": sizes " + Arrays.toString(Arrays.copyOf(shape, i + 1))
                        + " hold more than " + MAX_ELEMENTS + " elements");
            }
        }
        long data = bytes.length - b.position();
        if (data != n) {
            throw new IOException(
                    file + ": sizes " + Arrays.toString(shape) + " need " + n + " bytes of data, the file has " + data);
        }
        return new Idx(shape, Arrays.copyOfRange(bytes, b.position(), bytes.length));
    }

    /** The whole stream, refusing more than MAX_ELEMENTS + header bytes (a gzip bomb ends here). */
    private static byte[] readBounded(InputStream in, Path file) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream(1 << 20);
        byte[] buf = new byte[1 << 16];
        long total = 0;
        for (int r; (r = in.read(buf)) > 0; ) {
            total += r;
            if (total > MAX_ELEMENTS) {
                throw new IOException(file + ": more than " + MAX_ELEMENTS + " bytes of data");
            }
            out.write(buf, 0, r);
        }
        return out.toByteArray();
    }
}
