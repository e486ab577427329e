package org.tessera.engine.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SequencedMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Tensor;

class SafetensorsTest {
    @TempDir
    Path dir;

    /** A file made of an explicit header length, header text and {@code dataBytes} zero bytes. */
    private Path craft(String name, long headerLength, String header, int dataBytes) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer buf = ByteBuffer.allocate(8 + h.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        buf.putLong(headerLength).put(h);
        Path p = dir.resolve(name);
        Files.write(p, buf.array());
        return p;
    }

    private Path craft(String name, String header, int dataBytes) throws IOException {
        return craft(name, header.getBytes(StandardCharsets.UTF_8).length, header, dataBytes);
    }

    private WeightsFormatException broken(Path p) {
        return assertThrows(
                WeightsFormatException.class, () -> SafetensorsReader.open(p).close());
    }

    private static void assertMentions(Exception e, String... parts) {
        for (String part : parts) {
            assertTrue(e.getMessage().contains(part), () -> "message '" + e.getMessage() + "' lacks '" + part + "'");
        }
    }

    @Test
    void roundTripsEveryDtypeWithMetadata() throws IOException {
        SequencedMap<String, Tensor> tensors = new LinkedHashMap<>();
        try (Arena arena = Arena.ofConfined()) {
            tensors.put("w", Tensor.of(arena, new float[] {1, -2, 3.5f, 4, 5, 6}, 2, 3));
            tensors.put("d", Tensor.ofDoubles(arena, new double[] {Math.PI, -1e-300}, 2));
            tensors.put("ids", Tensor.ofLongs(arena, new long[] {3, 500, Long.MIN_VALUE}, 3));
            tensors.put("h", Tensor.of(arena, new float[] {0.5f, -1.25f, 2}, 3).to(DType.F16, arena));
            tensors.put("b", Tensor.of(arena, new float[] {0.5f, -1.25f}, 2).to(DType.BF16, arena));
            tensors.put("i", Tensor.of(arena, new float[] {7, -9}, 2).to(DType.I32, arena));
            tensors.put(
                    "strided",
                    Tensor.of(arena, new float[] {1, 2, 3, 4, 5, 6}, 2, 3).t());
            tensors.put("scalar", Tensor.of(arena, new float[] {42}));
            tensors.put("empty", Tensor.zeros(arena, DType.F32, 0, 4));
            tensors.put("weird \"name\"\n", Tensor.of(arena, new float[] {9}, 1));
            Path p = dir.resolve("out.safetensors");
            SafetensorsWriter.write(p, tensors, Map.of("config", "{\"depth\": 2}", "ünïcode", "✓"));

            try (SafetensorsReader r = SafetensorsReader.open(p)) {
                assertEquals(List.copyOf(tensors.keySet()), List.copyOf(r.names()));
                assertEquals("{\"depth\": 2}", r.metadata().get("config"));
                assertEquals("✓", r.metadata().get("ünïcode"));
                for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
                    Tensor want = e.getValue();
                    Tensor got = r.tensor(e.getKey());
                    assertEquals(want.dtype(), got.dtype(), e.getKey());
                    assertEquals(want.dtype(), r.dtype(e.getKey()));
                    assertArrayEquals(want.shape(), r.shape(e.getKey()), e.getKey());
                    assertArrayEquals(want.toDoubleArray(), got.toDoubleArray(), e.getKey());
                }
                assertArrayEquals(
                        new long[] {3, 500, Long.MIN_VALUE}, r.tensor("ids").toLongArray());
                assertArrayEquals(
                        new float[] {1, 4, 2, 5, 3, 6}, r.tensor("strided").toFloatArray());
                assertEquals(0, (r.entry("w").begin()) % 8, "data region is 8-byte aligned");
            }
            try (var files = Files.list(dir)) {
                assertEquals(1, files.count(), "no temporary file is left behind");
            }
        }
    }

    @Test
    void readsTheGoldenFile() throws IOException {
        try (SafetensorsReader r = SafetensorsReader.open(Goldens.reference())) {
            assertEquals(DType.F64, r.dtype("linear.betas"));
            assertArrayEquals(new int[] {1000}, r.shape("linear.betas"));
            assertEquals(1e-4, r.tensor("linear.betas").toDoubleArray()[0], 1e-15);
            assertArrayEquals(new long[] {10, 900}, r.tensor("q.t").toLongArray());
        }
    }

    @Test
    void overwritesAtomicallyAndKeepsTheOldFileWhenTheMoveFails() throws IOException {
        SequencedMap<String, Tensor> a = new LinkedHashMap<>();
        a.put("x", Tensor.of(new float[] {1, 2}, 2));
        Path p = dir.resolve("m.safetensors");
        SafetensorsWriter.write(p, a);
        a.put("x", Tensor.of(new float[] {3, 4}, 2));
        SafetensorsWriter.write(p, a);
        try (SafetensorsReader r = SafetensorsReader.open(p)) {
            assertArrayEquals(new float[] {3, 4}, r.tensor("x").toFloatArray());
        }
        // A non-empty directory in the way: the rename fails, nothing is left behind.
        Path blocked = dir.resolve("blocked");
        Files.createDirectories(blocked.resolve("child"));
        IOException e = assertThrows(IOException.class, () -> SafetensorsWriter.write(blocked, a));
        assertMentions(e, blocked.toString());
        try (Stream<Path> files = Files.list(dir)) {
            assertEquals(
                    List.of("blocked", "m.safetensors"),
                    files.map(f -> f.getFileName().toString()).sorted().toList());
        }
    }

    @Test
    void unwritablePathIsNamed() throws IOException {
        // Missing folders are made; a file where a folder should be cannot be.
        Path p = Files.writeString(dir.resolve("a-file"), "").resolve("out.safetensors");
        IOException e = assertThrows(
                IOException.class,
                () -> SafetensorsWriter.write(p, new LinkedHashMap<>(Map.of("x", Tensor.of(new float[] {1}, 1)))));
        assertMentions(e, p.toString());
    }

    @Test
    void refusesTensorNamedMetadata() {
        SequencedMap<String, Tensor> t = new LinkedHashMap<>();
        t.put("__metadata__", Tensor.of(new float[] {1}, 1));
        assertThrows(IllegalArgumentException.class, () -> SafetensorsWriter.write(dir.resolve("x"), t));
    }

    @Test
    void fileShorterThanEightBytes() throws IOException {
        Path p = dir.resolve("short.safetensors");
        Files.write(p, new byte[] {1, 2, 3});
        assertMentions(broken(p), p.toString(), "too short");
    }

    @Test
    void headerLengthPastTheEnd() throws IOException {
        Path p = craft("past.safetensors", 1000, "{}", 0);
        assertMentions(broken(p), p.toString(), "1000", "past the end");
    }

    @Test
    void absurdHeaderLength() throws IOException {
        Path p = craft("absurd.safetensors", 1L << 40, "{}", 0);
        assertMentions(broken(p), p.toString(), "absurd");
        Path negative = craft("negative.safetensors", -1, "{}", 0);
        assertMentions(broken(negative), "absurd");
    }

    @Test
    void invalidJson() throws IOException {
        for (String bad : new String[] {
            "{",
            "{\"a\":}",
            "[1,2]",
            "{\"a\":1,}",
            "{} x",
            "{\"a\":tru}",
            "[".repeat(10_000),
            "{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F64\"}}"
        }) {
            Path p = craft("bad.safetensors", bad, 0);
            WeightsFormatException e = broken(p);
            assertMentions(e, p.toString());
        }
        Path utf = dir.resolve("utf.safetensors");
        ByteBuffer buf = ByteBuffer.allocate(10)
                .order(ByteOrder.LITTLE_ENDIAN)
                .putLong(2)
                .put((byte) 0xC3)
                .put((byte) 0x28);
        Files.write(utf, buf.array());
        assertMentions(broken(utf), "UTF-8");
    }

    @Test
    void unknownDtype() throws IOException {
        Path p = craft("dtype.safetensors", "{\"x\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}", 2);
        assertMentions(broken(p), p.toString(), "\"x\"", "U8");
    }

    @Test
    void badDataOffsets() throws IOException {
        Path out = craft("out.safetensors", "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4);
        assertMentions(broken(out), "\"x\"", "past the 4-byte data region");
        Path reversed = craft("rev.safetensors", "{\"x\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,0]}}", 8);
        assertMentions(broken(reversed), "\"x\"", "reversed");
        Path size = craft("size.safetensors", "{\"x\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8);
        assertMentions(broken(size), "\"x\"", "needs 12 bytes", "hold 8");
        Path shape = craft("shape.safetensors", "{\"x\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,0]}}", 0);
        assertMentions(broken(shape), "\"x\"", "shape");
        Path missing = craft("missing.safetensors", "{\"x\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4);
        assertMentions(broken(missing), "\"x\"", "data_offsets");
        Path huge = craft(
                "huge.safetensors",
                "{\"x\":{\"dtype\":\"F64\",\"shape\":[2147483647,2147483647,2147483647],\"data_offsets\":[0,8]}}",
                8);
        assertMentions(broken(huge), "\"x\"", "too large");
    }

    @Test
    void overlappingTensors() throws IOException {
        Path p = craft(
                "overlap.safetensors",
                "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                        + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
                12);
        assertMentions(broken(p), p.toString(), "\"a\"", "\"b\"", "overlap");
    }

    @Test
    void missingTensorName() throws IOException {
        Path p = craft("ok.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4);
        try (SafetensorsReader r = SafetensorsReader.open(p)) {
            assertFalse(r.contains("b"));
            WeightsFormatException e = assertThrows(WeightsFormatException.class, () -> r.tensor("b"));
            assertMentions(e, p.toString(), "\"b\"");
        }
    }

    @Test
    void badMetadata() throws IOException {
        Path p = craft("meta.safetensors", "{\"__metadata__\":{\"k\":1}}", 0);
        assertMentions(broken(p), "__metadata__", "\"k\"");
    }

    @Test
    void theSameContentGivesTheSameBytesWhateverTheMetadataOrder(@org.junit.jupiter.api.io.TempDir Path dir)
            throws Exception {
        java.util.SequencedMap<String, Tensor> tensors = new java.util.LinkedHashMap<>();
        tensors.put("x", Tensor.of(new float[] {1f, 2f}, 2));
        java.util.Map<String, String> ab = new java.util.LinkedHashMap<>();
        ab.put("a", "1");
        ab.put("b", "2");
        java.util.Map<String, String> ba = new java.util.LinkedHashMap<>();
        ba.put("b", "2");
        ba.put("a", "1");
        SafetensorsWriter.write(dir.resolve("ab.safetensors"), tensors, ab);
        SafetensorsWriter.write(dir.resolve("ba.safetensors"), tensors, ba);
        org.junit.jupiter.api.Assertions.assertArrayEquals(
                java.nio.file.Files.readAllBytes(dir.resolve("ab.safetensors")),
                java.nio.file.Files.readAllBytes(dir.resolve("ba.safetensors")));
    }
}
