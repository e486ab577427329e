package org.tessera.engine.io.torch;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.math.BigInteger;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.SequencedSet;
import java.util.concurrent.ConcurrentHashMap;
import org.tessera.engine.io.WeightFile;
import org.tessera.engine.io.WeightsFormatException;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Shapes;
import org.tessera.engine.tensor.Tensor;

/**
 * Reads a PyTorch checkpoint without Python: the zip archive {@code torch.save} writes since
 * PyTorch 1.6 ({@code NAME/data.pkl} and one member per storage, {@code NAME/data/KEY}) and the
 * legacy format before it (pickles followed by the raw storages). The pickle goes through a
 * restricted unpickler ({@link Pickle}) that accepts only what a state dict uses.
 *
 * <p>The file is memory-mapped; a tensor whose storage holds it contiguously in one of the
 * engine's dtypes is a view of the mapping, others (strided views, int8/int16/uint8/bool
 * storages, which become I32) are copied once when first asked for. Which dict is the state dict:
 * the top level when it holds tensors; else, as DiT's sample.py does, {@code "ema"} before
 * {@code "model"}, then {@code "state_dict"} and {@code "module"}; or the key the caller selects.
 * Every storage and tensor is validated against the file when it is opened.
 */
public final class TorchCheckpointReader implements WeightFile {
    /** data.pkl beyond this is refused: DiT-XL/2's is about 40 KB. */
    static final long MAX_PICKLE_BYTES = 64L << 20;

    /** The legacy format's first pickle: torch.serialization.MAGIC_NUMBER. */
    private static final BigInteger LEGACY_MAGIC = new BigInteger("1950a86a20f9469cfc6c", 16);

    /** Where nested state dicts are looked for, in this order (DiT prefers its EMA weights). */
    private static final List<String> STATE_DICT_KEYS = List.of("ema", "model", "state_dict", "module");

    /** A storage's bytes and its type. */
    private record Storage(String key, String type, MemorySegment bytes, long numel) {}

    /** A legacy-format storage before its bytes are located: the key, the type, a view's offset. */
    private record LegacyStorage(String key, String type, long numel, long viewOffset) {}

    /** One tensor: where its elements are and how they are laid out. */
    private record Entry(
            String name, DType dtype, int[] shape, Storage storage, String storageType, long offset, long[] stride) {}

    private final Path path;
    private final Arena arena;
    private final Map<String, Entry> entries;
    private final Map<String, String> metadata;
    private final Map<String, Tensor> copies = new ConcurrentHashMap<>();

    private TorchCheckpointReader(Path path, Arena arena, Map<String, Entry> entries, Map<String, String> metadata) {
        this.path = path;
        this.arena = arena;
        this.entries = entries;
        this.metadata = metadata;
    }

    /**
     * True when a file's first {@code n} bytes ({@code head}; 9 of them tell a pickle from
     * safetensors) are a zip archive's or the legacy format's (a pickle of the magic number).
     */
    public static boolean looksLikeTorch(byte[] head, int n) {
        if (n < 4) {
            return false;
        }
        boolean zip = head[0] == 'P' && head[1] == 'K' && head[2] == 3 && head[3] == 4;
        // The legacy format starts with a pickle of the magic number: protocol 2 writes its LONG1 at
        // once, protocols 4 and 5 a FRAME first. A safetensors file's 9th byte is its header's '{'.
        boolean pickle = (head[0] & 0xFF) == 0x80
                && head[1] >= 2
                && head[1] <= 5
                && ((head[2] & 0xFF) == 0x8a || (head[2] & 0xFF) == 0x95)
                && !(n > 8 && head[8] == '{');
        return zip || pickle;
    }

    /** Opens {@code path}, choosing the state dict as described above. */
    public static TorchCheckpointReader open(Path path) throws IOException {
        return open(path, null);
    }

    /**
     * Opens {@code path}; {@code select} names the top-level key whose dict is the state dict
     * ("model" for the raw weights of a DiT training checkpoint), or null to choose as above.
     *
     * @throws WeightsFormatException naming the file (and the tensor) when it is malformed, uses
     *     a refused global, or holds no state dict
     */
    public static TorchCheckpointReader open(Path path, String select) throws IOException {
        if (Files.exists(path) && !Files.isRegularFile(path)) {
            throw new WeightsFormatException(path + ": not a regular file");
        }
        Arena arena = Arena.ofShared();
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ)) {
            MemorySegment file = channel.map(FileChannel.MapMode.READ_ONLY, 0, channel.size(), arena);
            byte[] head = file.asSlice(0, Math.min(9, file.byteSize())).toArray(ValueLayout.JAVA_BYTE);
            if (!looksLikeTorch(head, head.length)) {
                throw new WeightsFormatException(path + ": neither a zip archive nor a legacy PyTorch checkpoint");
            }
            boolean zip = head[0] == 'P';
            Map<String, String> metadata = new LinkedHashMap<>();
            metadata.put("format", zip ? "pytorch zip archive" : "pytorch legacy");
            Map<String, Entry> entries =
                    zip ? readZip(path, file, select, metadata) : readLegacy(path, file, select, metadata);
            return new TorchCheckpointReader(
                    path, arena, Collections.unmodifiableMap(entries), Collections.unmodifiableMap(metadata));
        } catch (IOException | RuntimeException | Error e) { // nothing of a refused file stays mapped
            arena.close();
            throw e;
        }
    }

    // ------------------------------------------------------------------ the zip archive

    private static Map<String, Entry> readZip(Path path, MemorySegment file, String select, Map<String, String> meta) {
        String where = path.toString();
        ZipDirectory zip = ZipDirectory.read(file, where);
        ZipDirectory.Member pickle = null;
        for (ZipDirectory.Member m : zip.members().values()) {
            if (m.name().endsWith("/data.pkl")
                    && m.name().indexOf('/') == m.name().length() - "/data.pkl".length()) {
                if (pickle != null) {
                    throw new WeightsFormatException(
                            where + ": two data.pkl members (" + pickle.name() + ", " + m.name() + ")");
                }
                pickle = m;
            }
        }
        if (pickle == null) {
            throw new WeightsFormatException(
                    where + ": a zip archive without NAME/data.pkl is not a PyTorch checkpoint");
        }
        String prefix = pickle.name().substring(0, pickle.name().length() - "data.pkl".length());
        ZipDirectory.Member order = zip.members().get(prefix + "byteorder");
        if (order != null) {
            String text = new String(zip.bytes(order, 16).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.US_ASCII);
            if (!text.equals("little")) {
                throw new WeightsFormatException(
                        where + ": storages written " + text + "-endian; only little-endian" + " checkpoints are read");
            }
        }
        Map<String, Storage> storages = new HashMap<>();
        MemorySegment pkl = zip.bytes(pickle, MAX_PICKLE_BYTES);
        Object root = Pickle.load(pkl, 0, pkl.byteSize(), where + ": " + pickle.name(), pid -> {
                    StorageId id = storageId(where, pid);
                    return storages.computeIfAbsent(id.key(), k -> {
                        ZipDirectory.Member m = zip.members().get(prefix + "data/" + k);
                        if (m == null) {
                            throw new WeightsFormatException(
                                    where + ": storage " + k + " has no member " + prefix + "data/" + k);
                        }
                        MemorySegment s = zip.slice(m);
                        long es = elementSize(id.type());
                        long bytes = id.numel() > s.byteSize() / es ? Long.MAX_VALUE : id.numel() * es;
                        if (bytes > s.byteSize()) {
                            throw new WeightsFormatException(
                                    where + ": storage " + k + " should hold " + id.numel() + " " + id.type()
                                            + " elements (" + bytes + " bytes) but its member has " + s.byteSize());
                        }
                        return new Storage(k, id.type(), s.asSlice(0, bytes), id.numel());
                    });
                })
                .value();
        return entries(where, stateDict(where, root, select, meta), ref -> (Storage) ref);
    }

    // ------------------------------------------------------------------ the legacy format

    private static Map<String, Entry> readLegacy(
            Path path, MemorySegment file, String select, Map<String, String> meta) {
        String where = path.toString();
        long size = file.byteSize();
        Pickle.Result magic = Pickle.load(file, 0, capped(0, size), where, pid -> {
            throw new WeightsFormatException(where + ": a persistent id before the data pickle");
        });
        if (!(magic.value() instanceof BigInteger b) || !b.equals(LEGACY_MAGIC)) {
            throw new WeightsFormatException(where + ": not a PyTorch checkpoint (wrong magic number)");
        }
        Pickle.Result version = Pickle.load(file, magic.next(), capped(magic.next(), size), where, pid -> null);
        if (!(version.value() instanceof Long v) || v != 1001L) {
            throw new WeightsFormatException(
                    where + ": legacy protocol version " + Pickle.describe(version.value()) + " (1001 is read)");
        }
        Pickle.Result sysInfo = Pickle.load(file, version.next(), capped(version.next(), size), where, pid -> null);
        if (sysInfo.value() instanceof Map<?, ?> info && Boolean.FALSE.equals(info.get("little_endian"))) {
            throw new WeightsFormatException(
                    where + ": written on a big-endian machine; only little-endian" + " checkpoints are read");
        }
        Map<String, String> types = new HashMap<>(); // the key list that follows gives no types
        Pickle.Result data = Pickle.load(file, sysInfo.next(), capped(sysInfo.next(), size), where, pid -> {
            StorageId id = storageId(where, pid);
            types.put(id.key(), id.type());
            return new LegacyStorage(id.key(), id.type(), id.numel(), id.viewOffset());
        });
        Pickle.Result keys = Pickle.load(file, data.next(), capped(data.next(), size), where, pid -> null);
        if (!(keys.value() instanceof List<?> keyList)) {
            throw new WeightsFormatException(where + ": the storage key list is missing");
        }
        // The storages follow in the key list's order: an int64 element count, then the elements.
        Map<String, Storage> storages = new HashMap<>();
        long p = keys.next();
        for (Object k : keyList) {
            if (!(k instanceof String key)) {
                throw new WeightsFormatException(where + ": a storage key that is not a str");
            }
            String type = types.get(key);
            if (type == null) {
                throw new WeightsFormatException(where + ": storage " + key + " is listed but no tensor uses it");
            }
            if (p + 8 > size) {
                throw new WeightsFormatException(where + ": the file ends before storage " + key);
            }
            long numel = file.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), p);
            long bytes;
            try {
                bytes = Math.multiplyExact(numel, elementSize(type));
            } catch (ArithmeticException e) {
                bytes = -1;
            }
            if (numel < 0 || bytes < 0 || bytes > size - p - 8) {
                throw new WeightsFormatException(where + ": storage " + key + " claims " + numel
                        + " elements, past the end of the " + size + "-byte file");
            }
            storages.put(key, new Storage(key, type, file.asSlice(p + 8, bytes), numel));
            p += 8 + bytes;
        }
        return entries(where, stateDict(where, data.value(), select, meta), ref -> {
            LegacyStorage l = (LegacyStorage) ref;
            Storage s = storages.get(l.key());
            if (s == null) {
                throw new WeightsFormatException(where + ": storage " + l.key() + " is used but not in the file");
            }
            if (l.viewOffset() == 0) {
                return s;
            }
            long at = l.viewOffset();
            if (at > s.numel()) {
                throw new WeightsFormatException(
                        where + ": a view at element " + at + " of storage " + l.key() + " which has " + s.numel());
            }
            long es = elementSize(s.type());
            return new Storage(s.key() + "+" + at, s.type(), s.bytes().asSlice(at * es), s.numel() - at);
        });
    }

    /** Where a legacy pickle starting at {@code start} may end at the latest: MAX_PICKLE_BYTES on. */
    private static long capped(long start, long size) {
        return Math.min(size, start + MAX_PICKLE_BYTES);
    }

    // ------------------------------------------------------------------ shared

    private record StorageId(String key, String type, long numel, long viewOffset) {}

    /**
     * torch's persistent id for a storage: ('storage', StorageType, key, location, numel) in the
     * archive, with a sixth item in the legacy format (None, or a view's (key, offset, size)).
     */
    private static StorageId storageId(String where, Object pid) {
        if (!(pid instanceof Pickle.Tuple t) || t.size() < 5 || !"storage".equals(t.get(0))) {
            throw new WeightsFormatException(
                    where + ": a persistent id that is not a storage (" + Pickle.describe(pid) + ")");
        }
        if (!(t.get(1) instanceof Pickle.Global g) || !Pickle.STORAGES.contains(g.name())) {
            throw new WeightsFormatException(where + ": a storage of unknown type " + Pickle.describe(t.get(1)));
        }
        if (!(t.get(2) instanceof String key) || !(t.get(4) instanceof Long numel) || numel < 0) {
            throw new WeightsFormatException(where + ": a malformed storage id");
        }
        if (key.isEmpty() || key.contains("/") || key.contains("..")) {
            throw new WeightsFormatException(where + ": a storage key \"" + key + "\" that is not a plain name");
        }
        long viewOffset = 0;
        if (t.size() > 5 && t.get(5) instanceof Pickle.Tuple view && view.size() == 3) {
            if (!(view.get(1) instanceof Long off) || off < 0) {
                throw new WeightsFormatException(where + ": a malformed storage view");
            }
            viewOffset = off;
        }
        return new StorageId(key, g.name(), numel, viewOffset);
    }

    private static long elementSize(String storageType) {
        return switch (storageType) {
            case "DoubleStorage", "LongStorage" -> 8;
            case "FloatStorage", "IntStorage" -> 4;
            case "HalfStorage", "BFloat16Storage", "ShortStorage" -> 2;
            default -> 1; // Char, Byte, Bool
        };
    }

    /** The engine's dtype for a storage type; the narrow integer types are widened to I32. */
    private static DType dtypeOf(String storageType) {
        return switch (storageType) {
            case "DoubleStorage" -> DType.F64;
            case "FloatStorage" -> DType.F32;
            case "HalfStorage" -> DType.F16;
            case "BFloat16Storage" -> DType.BF16;
            case "LongStorage" -> DType.I64;
            default -> DType.I32;
        };
    }

    /** The state dict within the unpickled object, as the class comment describes. */
    private static Map<?, ?> stateDict(String where, Object root, String select, Map<String, String> meta) {
        if (!(root instanceof Map<?, ?> top)) {
            throw new WeightsFormatException(where + ": holds a " + Pickle.describe(root) + ", not a dict of tensors");
        }
        if (select != null) {
            if (!(top.get(select) instanceof Map<?, ?> chosen)) {
                throw new WeightsFormatException(
                        where + ": no dict under \"" + select + "\"; the top level holds " + keysOf(top));
            }
            meta.put("state_dict", select);
            return chosen;
        }
        if (top.values().stream().anyMatch(Pickle.TensorRef.class::isInstance)) {
            return top;
        }
        for (String k : STATE_DICT_KEYS) {
            if (top.get(k) instanceof Map<?, ?> m && m.values().stream().anyMatch(Pickle.TensorRef.class::isInstance)) {
                meta.put("state_dict", k);
                return m;
            }
        }
        throw new WeightsFormatException(where + ": no state dict of tensors at the top level or under "
                + String.join(", ", STATE_DICT_KEYS) + "; the top level holds " + keysOf(top));
    }

    private static String keysOf(Map<?, ?> m) {
        List<String> keys = new ArrayList<>();
        for (Object k : m.keySet()) {
            keys.add(String.valueOf(k));
            if (keys.size() == 12) {
                keys.add("…");
                break;
            }
        }
        return keys.toString();
    }

    /** Validates every tensor of the state dict against its storage. */
    private static Map<String, Entry> entries(
            String where, Map<?, ?> dict, java.util.function.Function<Object, Storage> resolve) {
        Map<String, Entry> out = new LinkedHashMap<>();
        for (Map.Entry<?, ?> e : dict.entrySet()) {
            if (!(e.getValue() instanceof Pickle.TensorRef t)) {
                continue; // a plain value beside the tensors (a step count, a flag): not a weight
            }
            String name = String.valueOf(e.getKey());
            String at = where + ": tensor \"" + name + "\"";
            if (!(t.storage() instanceof Storage) && !(t.storage() instanceof LegacyStorage)) {
                throw new WeightsFormatException(at + ": its storage is a " + Pickle.describe(t.storage()));
            }
            Storage s = resolve.apply(t.storage());
            if (t.size().length != t.stride().length || t.size().length > 8) {
                throw new WeightsFormatException(at + ": size " + java.util.Arrays.toString(t.size()) + " and stride "
                        + java.util.Arrays.toString(t.stride()) + " do not fit together");
            }
            int[] shape = new int[t.size().length];
            long numel = 1;
            long last = t.offset(); // the furthest element the view reaches
            try {
                for (int d = 0; d < shape.length; d++) {
                    long n = t.size()[d];
                    long st = t.stride()[d];
                    if (n < 0 || n > Integer.MAX_VALUE || st < 0) {
                        throw new ArithmeticException();
                    }
                    shape[d] = (int) n;
                    numel = Math.multiplyExact(numel, n);
                    if (n > 0) {
                        last = Math.addExact(last, Math.multiplyExact(n - 1, st));
                    }
                }
                Math.multiplyExact(numel, 8L); // its bytes fit in a long
            } catch (ArithmeticException overflow) {
                throw new WeightsFormatException(at + ": size " + java.util.Arrays.toString(t.size()) + " or stride "
                        + java.util.Arrays.toString(t.stride()) + " out of range");
            }
            if (numel > s.numel()) {
                // a view with more elements than its storage repeats them (stride 0, overlaps): no
                // state dict holds one, and copying it out could take any amount of memory
                throw new WeightsFormatException(at + ": " + numel + " elements viewed in a storage of " + s.numel());
            }
            if (t.offset() < 0 || t.offset() > s.numel() || (numel > 0 && last >= s.numel())) {
                throw new WeightsFormatException(at + ": offset " + t.offset() + ", size "
                        + java.util.Arrays.toString(t.size()) + ", stride " + java.util.Arrays.toString(t.stride())
                        + " reach element " + last + " of a storage of " + s.numel());
            }
            out.put(name, new Entry(name, dtypeOf(s.type()), shape, s, s.type(), t.offset(), t.stride()));
        }
        if (out.isEmpty()) {
            throw new WeightsFormatException(where + ": the state dict holds no tensors");
        }
        return out;
    }

    @Override
    public Path path() {
        return path;
    }

    @Override
    public SequencedSet<String> names() {
        return Collections.unmodifiableSequencedSet(new LinkedHashSet<>(entries.keySet()));
    }

    @Override
    public boolean contains(String name) {
        return entries.containsKey(name);
    }

    private Entry entry(String name) {
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
        return entry(name).shape().clone();
    }

    @Override
    public Map<String, String> metadata() {
        return metadata;
    }

    /** A view of the mapping when the tensor is contiguous in an engine dtype, else a copy made once. */
    @Override
    public Tensor tensor(String name) {
        Entry e = entry(name);
        long es = elementSize(e.storageType());
        long numel = Shapes.numel(e.shape());
        if (e.dtype().byteSize() == es && isRowMajor(e.shape(), e.stride())) {
            return Tensor.wrap(e.storage().bytes().asSlice(e.offset() * es, numel * es), e.dtype(), e.shape());
        }
        return copies.computeIfAbsent(name, k -> copy(e, es, numel));
    }

    private static boolean isRowMajor(int[] shape, long[] stride) {
        long expected = 1;
        for (int d = shape.length - 1; d >= 0; d--) {
            if (shape[d] != 1 && stride[d] != expected) {
                return false;
            }
            expected *= shape[d];
        }
        return true;
    }

    /** A row-major copy, widening int8/uint8/int16/bool elements to I32. */
    private Tensor copy(Entry e, long es, long numel) {
        Tensor out = Tensor.zeros(arena, e.dtype(), e.shape());
        MemorySegment src = e.storage().bytes();
        MemorySegment dst = out.storage();
        long dstBase = out.byteOffset();
        int rank = e.shape().length;
        int[] index = new int[rank];
        for (long i = 0; i < numel; i++) {
            long at = e.offset();
            for (int d = 0; d < rank; d++) {
                at += index[d] * e.stride()[d];
            }
            long from = at * es;
            long to = dstBase + i * e.dtype().byteSize();
            switch (e.storageType()) {
                case "CharStorage" -> dst.set(ValueLayout.JAVA_INT_UNALIGNED, to, src.get(ValueLayout.JAVA_BYTE, from));
                case "ByteStorage", "BoolStorage" ->
                    dst.set(ValueLayout.JAVA_INT_UNALIGNED, to, src.get(ValueLayout.JAVA_BYTE, from) & 0xFF);
                case "ShortStorage" ->
                    dst.set(ValueLayout.JAVA_INT_UNALIGNED, to, src.get(ValueLayout.JAVA_SHORT_UNALIGNED, from));
                default -> MemorySegment.copy(src, from, dst, to, es);
            }
            for (int d = rank - 1; d >= 0; d--) { // the next index, last dim fastest
                if (++index[d] < e.shape()[d]) {
                    break;
                }
                index[d] = 0;
            }
        }
        return out;
    }

    @Override
    public void close() {
        arena.close();
    }
}
