package org.tessera.engine.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class IdxReaderTest {
    @TempDir
    Path dir;

    private static byte[] idx(int magic, int[] shape, byte[] data) {
        ByteBuffer b = ByteBuffer.allocate(4 + 4 * shape.length + data.length);
        b.putInt(magic);
        for (int s : shape) {
            b.putInt(s);
        }
        b.put(data);
        return b.array();
    }

    @Test
    void readsImagesAndLabelsGzippedOrNot() throws IOException {
        byte[] pixels = {0, 1, 2, (byte) 255, 4, 5, 6, 7, 8, 9, 10, 11};
        Path raw = Files.write(dir.resolve("img-idx3-ubyte"), idx(0x0803, new int[] {2, 2, 3}, pixels));
        IdxReader.Idx a = IdxReader.read(raw);
        assertArrayEquals(new int[] {2, 2, 3}, a.shape());
        assertEquals(255, a.unsigned(3));
        Path gz = dir.resolve("labels-idx1-ubyte.gz");
        try (OutputStream out = new GZIPOutputStream(Files.newOutputStream(gz))) {
            out.write(idx(0x0801, new int[] {3}, new byte[] {7, 0, 9}));
        }
        IdxReader.Idx labels = IdxReader.read(gz);
        assertArrayEquals(new int[] {3}, labels.shape());
        assertEquals(9, labels.unsigned(2));
    }

    @Test
    void badFilesAreNamedErrors() throws IOException {
        Path shortData = Files.write(dir.resolve("short"), idx(0x0803, new int[] {2, 2, 3}, new byte[5]));
        IOException e = assertThrows(IOException.class, () -> IdxReader.read(shortData));
        assertTrue(e.getMessage().contains("sizes [2, 2, 3] need 12 bytes of data, the file has 5"), e.getMessage());
        Path huge = Files.write(dir.resolve("huge"), idx(0x0803, new int[] {65536, 65536, 65536}, new byte[0]));
        e = assertThrows(IOException.class, () -> IdxReader.read(huge));
        assertTrue(e.getMessage().contains("hold more than"), e.getMessage());
        Path floats = Files.write(dir.resolve("floats"), idx(0x0D01, new int[] {1}, new byte[4]));
        e = assertThrows(IOException.class, () -> IdxReader.read(floats));
        assertTrue(e.getMessage().contains("is not unsigned bytes"), e.getMessage());
        Path text = Files.writeString(dir.resolve("text"), "hello, world");
        e = assertThrows(IOException.class, () -> IdxReader.read(text));
        assertTrue(e.getMessage().contains("not an IDX file"), e.getMessage());
        Path notGzip = Files.writeString(dir.resolve("x.gz"), "not gzip");
        e = assertThrows(IOException.class, () -> IdxReader.read(notGzip));
        assertTrue(e.getMessage().startsWith(notGzip.toString()), e.getMessage());
    }

    @Test
    void fashionMnistWhenInstalled() throws IOException {
        Path images = Path.of("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz");
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.isRegularFile(images), "scripts/install-datasets not run");
        IdxReader.Idx idx = IdxReader.read(images);
        assertArrayEquals(new int[] {10000, 28, 28}, idx.shape());
    }
}
