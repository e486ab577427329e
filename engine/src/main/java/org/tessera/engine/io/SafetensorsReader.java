package org.tessera.engine.io;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.SequencedSet;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Shapes;
import org.tessera.engine.tensor.Tensor;

/**
 * Reads a <a href="https://github.com/huggingface/safetensors">safetensors</a> file: an 8-byte
 * little-endian header length N, N bytes of JSON, then the data region. The JSON maps each
 * tensor name to {@code {"dtype", "shape", "data_offsets": [begin, end]}} (offsets relative to
 * the data region) plus an optional {@code "__metadata__"} map of strings.
 *
 * <p>The file is memory-mapped into a shared arena this reader owns, so {@link #tensor} is a
 * zero-copy view that worker threads may read; the views die with {@link #close()}. Every
 * entry is validated when the file is opened, so a broken or hostile file fails at once with a
 * {@link WeightsFormatException} naming the file and the tensor, never later inside a kernel.
 */
public final class SafetensorsReader implements WeightFile {
    /** Headers beyond this are refused: real ones are kilobytes, and the JSON is parsed in memory. */
    static final long MAX_HEADER_BYTES = 100L * 1024 * 1024;

    private static final String METADATA_KEY = "__metadata__";

    /** One tensor's entry in the header; offsets are absolute positions in the file. */
    public record Entry(String name, DType dtype, int[] shape, long begin, long end) {
        public Entry {
            shape = shape.clone();
        }

        @Override
        public int[] shape() {
            return shape.clone();
        }
    }

    private final Path path;
    private final Arena arena;
    private final MemorySegment file;
    private final Map<String, Entry> entries;
    private final Map<String, String> metadata;

    private SafetensorsReader(
            Path path, Arena arena, MemorySegment file, Map<String, Entry> entries, Map<String, String> metadata) {
        this.path = path;
        this.arena = arena;
        this.file = file;
        this.entries = entries;
        this.metadata = metadata;
    }

    /**
     * Maps and validates {@code path}.
     *
     * @throws IOException if the file cannot be opened or mapped
     * @throws WeightsFormatException if it is not a well-formed safetensors file
     */
    public static SafetensorsReader open(Path path) throws IOException {
        if (java.nio.file.Files.exists(path) && !java.nio.file.Files.isRegularFile(path)) {
            // A folder reads as "No such device"; a FIFO would block the open forever.
            throw new WeightsFormatException(path + ": not a regular file");
        }
        Arena arena = Arena.ofShared();
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = channel.size();
            if (size < 8) {
                throw new WeightsFormatException(
                        path + ": file is " + size + " bytes, too short for the 8-byte safetensors header length");
            }
            MemorySegment file = channel.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            long headerLength = file.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0);
            if (headerLength < 0 || headerLength > MAX_HEADER_BYTES) {
                throw new WeightsFormatException(path + ": header length " + Long.toUnsignedString(headerLength)
                        + " bytes is absurd (limit " + MAX_HEADER_BYTES + ")");
            }
            if (8 + headerLength > size) {
                throw new WeightsFormatException(path + ": header length " + headerLength
                        + " bytes runs past the end of the " + size + "-byte file");
            }
            String json = decodeUtf8(path, file.asSlice(8, headerLength));
            Object root;
            try {
                root = Json.parse(json);
            } catch (Json.ParseException e) {
                throw new WeightsFormatException(path + ": header is not valid JSON: " + e.getMessage(), e);
            }
            if (!(root instanceof Map<?, ?> map)) {
                throw new WeightsFormatException(path + ": header must be a JSON object");
            }
            long dataStart = 8 + headerLength;
            Map<String, String> metadata = new LinkedHashMap<>();
            Map<String, Entry> entries = new LinkedHashMap<>();
            for (Map.Entry<?, ?> e : map.entrySet()) {
                String name = (String) e.getKey();
                if (name.equals(METADATA_KEY)) {
                    readMetadata(path, e.getValue(), metadata);
                } else {
                    entries.put(name, readEntry(path, name, e.getValue(), dataStart, size));
                }
            }
            checkOverlaps(path, entries);
            return new SafetensorsReader(
                    path, arena, file, Collections.unmodifiableMap(entries), Collections.unmodifiableMap(metadata));
        } catch (IOException | RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    private static String decodeUtf8(Path path, MemorySegment bytes) {
        ByteBuffer buffer = bytes.asByteBuffer();
        try {
            return StandardCharsets.UTF_8
                    .newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(buffer)
                    .toString();
        } catch (CharacterCodingException e) {
            throw new WeightsFormatException(path + ": header is not valid UTF-8", e);
        }
    }

    private static void readMetadata(Path path, Object value, Map<String, String> out) {
        if (!(value instanceof Map<?, ?> map)) {
            throw new WeightsFormatException(path + ": " + METADATA_KEY + " must be an object of strings");
        }
        for (Map.Entry<?, ?> e : map.entrySet()) {
            if (!(e.getValue() instanceof String s)) {
                throw new WeightsFormatException(
                        path + ": " + METADATA_KEY + " value of \"" + e.getKey() + "\" must be a string");
            }
            out.put((String) e.getKey(), s);
        }
    }

    private static Entry readEntry(Path path, String name, Object value, long dataStart, long fileSize) {
        String where = path + ": tensor \"" + name + "\"";
        if (!(value instanceof Map<?, ?> map)) {
            throw new WeightsFormatException(where + ": entry must be an object");
        }
        if (!(map.get("dtype") instanceof String dtypeName)) {
            throw new WeightsFormatException(where + ": missing or non-string \"dtype\"");
        }
        DType dtype = switch (dtypeName) {
            case "F32" -> DType.F32;
            case "F64" -> DType.F64;
            case "BF16" -> DType.BF16;
            case "F16" -> DType.F16;
            case "I64" -> DType.I64;
            case "I32" -> DType.I32;
            default ->
                throw new WeightsFormatException(
                        where + ": unsupported dtype \"" + dtypeName + "\" (supported: F32, F64, BF16, F16, I64, I32)");
        };
        int[] shape = intList(where, "shape", map.get("shape"), -1);
        long[] offsets = longList(where, "data_offsets", map.get("data_offsets"), 2);
        long begin = offsets[0];
        long end = offsets[1];
        long dataSize = fileSize - dataStart;
        if (begin < 0 || end < begin) {
            throw new WeightsFormatException(
                    where + ": data_offsets [" + begin + ", " + end + "] are reversed or negative");
        }
        if (end > dataSize) {
            throw new WeightsFormatException(where + ": data_offsets [" + begin + ", " + end + "] run past the "
                    + dataSize + "-byte data region");
        }
        long expected = Shapes.numel(shape) * dtype.byteSize(); // cannot overflow: intList bounds numel
        if (expected != end - begin) {
            throw new WeightsFormatException(
                    where + ": shape " + Shapes.toString(shape) + " of " + dtypeName + " needs " + expected
                            + " bytes but data_offsets [" + begin + ", " + end + "] hold " + (end - begin));
        }
        return new Entry(name, dtype, shape, dataStart + begin, dataStart + end);
    }

    private static int[] intList(String where, String key, Object value, int length) {
        long[] longs = longList(where, key, value, length);
        int[] out = new int[longs.length];
        for (int i = 0; i < longs.length; i++) {
            if (longs[i] < 0 || longs[i] > Integer.MAX_VALUE) {
                throw new WeightsFormatException(where + ": " + key + " entry " + longs[i] + " out of range");
            }
            out[i] = (int) longs[i];
        }
        // Bound numel so that numel × 8 bytes fits in a long.
        long n = 1;
        for (int d : out) {
            if (d != 0 && n > Long.MAX_VALUE / 8 / d) {
                throw new WeightsFormatException(where + ": " + key + " " + Shapes.toString(out) + " is too large");
            }
            n *= d;
        }
        return out;
    }

    private static long[] longList(String where, String key, Object value, int length) {
        if (!(value instanceof List<?> list)) {
            throw new WeightsFormatException(where + ": missing or non-array \"" + key + "\"");
        }
        if (length >= 0 && list.size() != length) {
            throw new WeightsFormatException(
                    where + ": \"" + key + "\" must have " + length + " entries, got " + list.size());
        }
        long[] out = new long[list.size()];
        for (int i = 0; i < out.length; i++) {
            if (!(list.get(i) instanceof Long l)) {
                throw new WeightsFormatException(
                        where + ": \"" + key + "\" entry " + list.get(i) + " is not an integer");
            }
            out[i] = l;
        }
        return out;
    }

    /** Sorted by start, each tensor must end at or before the next one begins. */
    private static void checkOverlaps(Path path, Map<String, Entry> entries) {
        List<Entry> sorted = new ArrayList<>(entries.values());
        sorted.removeIf(e -> e.begin() == e.end()); // empty tensors occupy no bytes
        sorted.sort(Comparator.comparingLong(Entry::begin));
        for (int i = 1; i < sorted.size(); i++) {
            Entry prev = sorted.get(i - 1);
            Entry cur = sorted.get(i);
            if (cur.begin() < prev.end()) {
                throw new WeightsFormatException(path + ": tensors \"" + prev.name() + "\" and \"" + cur.name()
                        + "\" overlap in the data region");
            }
        }
    }

    /** The file this reader maps. */
    @Override
    public Path path() {
        return path;
    }

    /** Tensor names in header order. */
    @Override
    public SequencedSet<String> names() {
        return Collections.unmodifiableSequencedSet(new LinkedHashSet<>(entries.keySet()));
    }

    /** True if the file holds a tensor called {@code name}. */
    @Override
    public boolean contains(String name) {
        return entries.containsKey(name);
    }

    /** The header entry of {@code name}. */
    public Entry entry(String name) {
        Entry e = entries.get(name);
        if (e == null) {
            throw new WeightsFormatException(
                    path + ": no tensor named \"" + name + "\" (the file holds " + entries.size() + " tensors)");
        }
        return e;
    }

    @Override
    public DType dtype(String name) {
        return entry(name).dtype();
    }

    @Override
    public int[] shape(String name) {
        return entry(name).shape();
    }

    /** The {@code __metadata__} strings (empty if the file has none). */
    @Override
    public Map<String, String> metadata() {
        return metadata;
    }

    /** A zero-copy, read-only view of tensor {@code name}, valid until {@link #close()}. */
    @Override
    public Tensor tensor(String name) {
        Entry e = entry(name);
        return Tensor.wrap(file.asSlice(e.begin(), e.end() - e.begin()), e.dtype(), e.shape());
    }

    /** Unmaps the file; tensors obtained from this reader must not be used afterwards. */
    @Override
    public void close() {
        arena.close();
    }
}
