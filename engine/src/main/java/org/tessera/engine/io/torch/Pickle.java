package org.tessera.engine.io.torch;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.math.BigInteger;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import org.tessera.engine.io.WeightsFormatException;

/**
 * A restricted unpickler: the part of Python's pickle machine that {@code torch.save} of a state
 * dict uses, and nothing that could run code. Python's own unpickler calls whatever callable a
 * file names; this one knows a short list of globals — {@code collections.OrderedDict}, torch's
 * tensor and parameter rebuild functions, its storage types and dtypes, {@code argparse.Namespace}
 * (DiT's training checkpoints carry their arguments) — and interprets each itself. Any other global
 * is refused with a message naming it, before anything is built from it.
 *
 * <p>Python values become: {@code None} → null, bool → Boolean, int → Long (BigInteger beyond 64
 * bits), float → Double, str → String, bytes → byte[], tuple → {@link Tuple}, list → ArrayList,
 * dict and OrderedDict → LinkedHashMap. Dict keys must be str, int, float or bool: a list as a key
 * could contain itself and hash forever. Every read is bounds-checked against the pickle's end, so
 * a truncated or hostile stream fails with its byte position rather than hanging or running out of
 * memory; work is linear in the stream's length.
 */
final class Pickle {
    /** A Python tuple. */
    record Tuple(List<Object> items) {
        Object get(int i) {
            return items.get(i);
        }

        int size() {
            return items.size();
        }
    }

    /** An allowed global, by module and name (storage types and dtypes stay as these markers). */
    record Global(String module, String name) {
        String dotted() {
            return module + "." + name;
        }
    }

    /** torch's {@code _rebuild_tensor_v2(storage, offset, size, stride, ...)}: a view of a storage. */
    record TensorRef(Object storage, long offset, long[] size, long[] stride) {}

    /** An object of an allowed class that is kept as data only (an {@code argparse.Namespace}). */
    record Opaque(Global type, Map<Object, Object> state) {}

    /** Globals this unpickler interprets; storage types and dtypes are listed in {@link #STORAGES}. */
    private static final Set<String> CALLABLES = Set.of(
            "collections.OrderedDict",
            "builtins.dict",
            "torch._utils._rebuild_tensor",
            "torch._utils._rebuild_tensor_v2",
            "torch._utils._rebuild_parameter",
            "torch._utils._rebuild_parameter_with_state",
            "argparse.Namespace",
            "_codecs.encode");

    /** torch storage classes by name, and the dtypes torch 2 may name beside them. */
    static final Set<String> STORAGES = Set.of(
            "FloatStorage",
            "DoubleStorage",
            "HalfStorage",
            "BFloat16Storage",
            "LongStorage",
            "IntStorage",
            "ShortStorage",
            "CharStorage",
            "ByteStorage",
            "BoolStorage");

    private static final Set<String> DTYPES =
            Set.of("float32", "float64", "float16", "bfloat16", "int64", "int32", "int16", "int8", "uint8", "bool");

    private static final Object MARK = new Object();

    /** A single str or bytes beyond this is refused: the keys and names of a state dict are short. */
    private static final long MAX_STRING_BYTES = 16L << 20;

    /** LONG1/LONG4 beyond this many bytes are refused (a 1 KB integer is already absurd here). */
    private static final long MAX_LONG_BYTES = 1024;

    /**
     * Values a pickle may push: a bound on the heap it can take (tens of bytes each). DiT-XL/2's
     * state dict pushes about twenty thousand; a hostile stream of one-byte opcodes would push one
     * per byte.
     */
    private static final long MAX_PUSHES = 4_000_000;

    private final MemorySegment data;
    private final long end;
    private final String where;
    private final Function<Object, Object> persistentLoad;
    private long pos;
    private final ArrayList<Object> stack = new ArrayList<>();
    private final ArrayList<Integer> marks = new ArrayList<>();
    private final Map<Long, Object> memo = new HashMap<>();
    private long pushes;

    private Pickle(MemorySegment data, long start, long end, String where, Function<Object, Object> persistentLoad) {
        this.data = data;
        this.pos = start;
        this.end = end;
        this.where = where;
        this.persistentLoad = persistentLoad;
    }

    /** The value of the pickle at {@code data[start, end)}, and where its STOP left off. */
    record Result(Object value, long next) {}

    /**
     * Unpickles one value.
     *
     * @param persistentLoad turns a persistent id (torch's storage tuples) into an object
     * @param where the file (and entry) for messages
     * @throws WeightsFormatException naming {@code where} and the byte position
     */
    static Result load(
            MemorySegment data, long start, long end, String where, Function<Object, Object> persistentLoad) {
        Pickle p = new Pickle(data, start, end, where, persistentLoad);
        Object v = p.run();
        return new Result(v, p.pos);
    }

    private WeightsFormatException error(String message) {
        return new WeightsFormatException(where + ": " + message + " (pickle byte " + pos + ")");
    }

    private Object run() {
        while (true) {
            long at = pos;
            int op = u8();
            switch (op) {
                case 0x80 -> { // PROTO
                    int protocol = u8();
                    if (protocol > 5) {
                        throw error("pickle protocol " + protocol + " is newer than any this reader knows (≤ 5)");
                    }
                }
                case 0x95 -> skip(8); // FRAME: a length hint only
                case '.' -> { // STOP
                    if (stack.size() != 1 || !marks.isEmpty()) {
                        throw error("the pickle stops with " + stack.size() + " values on its stack");
                    }
                    return stack.getFirst();
                }
                case '(' -> { // MARK
                    marks.add(stack.size());
                    stack.add(MARK);
                }
                case '0' -> pop(); // POP
                case '1' -> popMark(); // POP_MARK
                case '2' -> push(peek()); // DUP
                case 'N' -> push(null);
                case 0x88 -> push(Boolean.TRUE);
                case 0x89 -> push(Boolean.FALSE);
                case 'J' -> push((long) i32le()); // BININT
                case 'K' -> push((long) u8()); // BININT1
                case 'M' -> push((long) (u8() | u8() << 8)); // BININT2
                case 0x8a -> push(longBytes(u8())); // LONG1
                case 0x8b -> push(longBytes(i32le())); // LONG4
                case 'I' -> push(textInt(line())); // INT (protocol 0: also "I00"/"I01" for booleans)
                case 'L' -> push(textLong(line())); // LONG
                case 'G' -> push(Double.longBitsToDouble(i64be())); // BINFLOAT
                case 'X' -> push(utf8(length(i32le()))); // BINUNICODE
                case 0x8c -> push(utf8(u8())); // SHORT_BINUNICODE
                case 0x8d -> push(utf8(length(i64le()))); // BINUNICODE8
                case 'T' -> push(latin1(length(i32le()))); // BINSTRING (Python 2 str)
                case 'U' -> push(latin1(u8())); // SHORT_BINSTRING
                case 'B' -> push(bytes(length(i32le()))); // BINBYTES
                case 'C' -> push(bytes(u8())); // SHORT_BINBYTES
                case 0x8e -> push(bytes(length(i64le()))); // BINBYTES8
                case ')' -> push(new Tuple(List.of()));
                case 't' -> push(new Tuple(new ArrayList<>(popMark())));
                case 0x85 -> push(tupleOf(1));
                case 0x86 -> push(tupleOf(2));
                case 0x87 -> push(tupleOf(3));
                case ']' -> push(new ArrayList<>());
                case 'l' -> push(new ArrayList<>(popMark())); // LIST
                case 'a' -> { // APPEND
                    Object v = pop();
                    list(peek(), "APPEND").add(v);
                }
                case 'e' -> { // APPENDS
                    List<Object> items = popMark();
                    list(peek(), "APPENDS").addAll(items);
                }
                case '}' -> push(new LinkedHashMap<>());
                case 'd' -> { // DICT
                    List<Object> items = popMark();
                    Map<Object, Object> m = new LinkedHashMap<>();
                    putPairs(m, items);
                    push(m);
                }
                case 's' -> { // SETITEM
                    Object v = pop();
                    Object k = pop();
                    dict(peek(), "SETITEM").put(key(k), v);
                }
                case 'u' -> { // SETITEMS
                    List<Object> items = popMark();
                    putPairs(dict(peek(), "SETITEMS"), items);
                }
                case 'c' -> push(global(line(), line())); // GLOBAL
                case 0x93 -> { // STACK_GLOBAL
                    Object name = pop();
                    Object module = pop();
                    if (!(module instanceof String m) || !(name instanceof String n)) {
                        throw error("STACK_GLOBAL needs two strings");
                    }
                    push(global(m, n));
                }
                case 'R' -> { // REDUCE
                    Object args = pop();
                    Object callable = pop();
                    push(call(callable, args));
                }
                case 0x81 -> { // NEWOBJ
                    Object args = pop();
                    Object cls = pop();
                    push(call(cls, args));
                }
                case 0x92 -> { // NEWOBJ_EX
                    Object kwargs = pop();
                    Object args = pop();
                    Object cls = pop();
                    if (!(kwargs instanceof Map<?, ?> k) || !k.isEmpty()) {
                        throw error("NEWOBJ_EX with keyword arguments is not something a state dict uses");
                    }
                    push(call(cls, args));
                }
                case 'b' -> build(pop(), peek()); // BUILD
                case 'q' -> memo.put((long) u8(), peek()); // BINPUT
                case 'r' -> memo.put(i32le() & 0xFFFFFFFFL, peek()); // LONG_BINPUT
                case 'p' -> memo.put(textLong(line()).longValue(), peek()); // PUT
                case 0x94 -> memo.put((long) memo.size(), peek()); // MEMOIZE
                case 'h' -> push(memo((long) u8())); // BINGET
                case 'j' -> push(memo(i32le() & 0xFFFFFFFFL)); // LONG_BINGET
                case 'g' -> push(memo(textLong(line()).longValue())); // GET
                case 'Q' -> push(persistentLoad.apply(pop())); // BINPERSID
                case 'P' -> push(persistentLoad.apply(line())); // PERSID
                default -> {
                    pos = at;
                    throw error(String.format("pickle opcode 0x%02x is not one a state dict uses; refused", op));
                }
            }
        }
    }

    // ------------------------------------------------------------------ globals and calls

    private Global global(String module, String name) {
        String dotted = module + "." + name;
        boolean storage = module.equals("torch") && STORAGES.contains(name);
        boolean dtype = module.equals("torch") && DTYPES.contains(name);
        if (!storage && !dtype && !CALLABLES.contains(dotted)) {
            throw error("refused global " + dotted
                    + ": a checkpoint may hold state dicts of tensors (with OrderedDict, torch's tensor rebuild"
                    + " functions and storage types) and plain values, nothing that runs code");
        }
        return new Global(module, name);
    }

    private Object call(Object callable, Object argsObject) {
        if (!(callable instanceof Global g)) {
            throw error("a call of a " + describe(callable) + ", not of an allowed global");
        }
        if (!(argsObject instanceof Tuple args)) {
            throw error(g.dotted() + " called with a " + describe(argsObject) + " instead of an argument tuple");
        }
        return switch (g.dotted()) {
            case "collections.OrderedDict", "builtins.dict" -> {
                Map<Object, Object> m = new LinkedHashMap<>();
                if (args.size() == 1 && args.get(0) instanceof List<?> pairs) {
                    for (Object pair : pairs) {
                        if (!(pair instanceof Tuple t) || t.size() != 2) {
                            throw error(g.dotted() + "'s items must be (key, value) pairs");
                        }
                        m.put(key(t.get(0)), t.get(1));
                    }
                } else if (args.size() != 0) {
                    throw error(g.dotted() + " called with " + args.size() + " arguments");
                }
                yield m;
            }
            case "torch._utils._rebuild_tensor", "torch._utils._rebuild_tensor_v2" -> {
                if (args.size() < 4) {
                    throw error(g.name() + " needs (storage, offset, size, stride, ...), got " + args.size()
                            + " arguments");
                }
                yield new TensorRef(
                        args.get(0),
                        integer(args.get(1), "storage offset"),
                        ints(args.get(2), "size"),
                        ints(args.get(3), "stride"));
            }
            case "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state" -> {
                if (args.size() < 1 || !(args.get(0) instanceof TensorRef t)) {
                    throw error(g.name() + " needs a tensor first");
                }
                yield t; // a Parameter is its data here; requires_grad and hooks do not matter
            }
            case "argparse.Namespace" -> new Opaque(g, new LinkedHashMap<>());
            case "_codecs.encode" -> {
                // protocol 2's way to write bytes from Python 3: encode(text, "latin1")
                if (args.size() != 2 || !(args.get(0) instanceof String s) || !"latin1".equals(args.get(1))) {
                    throw error("_codecs.encode is accepted only as encode(str, \"latin1\")");
                }
                yield s.getBytes(StandardCharsets.ISO_8859_1);
            }
            default -> throw error(g.dotted() + " is a type marker, not something to call");
        };
    }

    /** BUILD: an object's state. Dicts (an OrderedDict's {@code _metadata}) and namespaces keep it as data. */
    private void build(Object state, Object target) {
        switch (target) {
            case Opaque o
            when state instanceof Map<?, ?> m -> m.forEach((k, v) -> o.state().put(k, v));
            case Map<?, ?> ignored -> {
                // state_dict()'s OrderedDict carries _metadata (module versions): not needed here
            }
            default -> throw error("BUILD on a " + describe(target) + " is not something a state dict uses");
        }
    }

    // ------------------------------------------------------------------ stack

    private void push(Object v) {
        if (++pushes > MAX_PUSHES) {
            throw error("more than " + MAX_PUSHES + " values: not the pickle of a state dict");
        }
        stack.add(v);
    }

    private Object pop() {
        if (stack.isEmpty() || stack.getLast() == MARK) {
            throw error("the pickle's stack runs empty");
        }
        return stack.removeLast();
    }

    private Object peek() {
        if (stack.isEmpty() || stack.getLast() == MARK) {
            throw error("the pickle's stack runs empty");
        }
        return stack.getLast();
    }

    /** The values above the topmost mark, in order; the mark is removed. */
    private List<Object> popMark() {
        if (marks.isEmpty()) {
            throw error("no MARK to pop to");
        }
        int m = marks.removeLast();
        List<Object> items = new ArrayList<>(stack.subList(m + 1, stack.size()));
        stack.subList(m, stack.size()).clear();
        return items;
    }

    private Tuple tupleOf(int n) {
        Object[] items = new Object[n];
        for (int i = n - 1; i >= 0; i--) {
            items[i] = pop();
        }
        return new Tuple(java.util.Arrays.asList(items));
    }

    private Object memo(long key) {
        if (!memo.containsKey(key)) {
            throw error("memo entry " + key + " is read before it is written");
        }
        return memo.get(key);
    }

    @SuppressWarnings("unchecked")
    private List<Object> list(Object v, String op) {
        if (!(v instanceof ArrayList<?> l)) {
            throw error(op + " on a " + describe(v) + ", not a list");
        }
        return (List<Object>) l;
    }

    @SuppressWarnings("unchecked")
    private Map<Object, Object> dict(Object v, String op) {
        if (!(v instanceof LinkedHashMap<?, ?> m)) {
            throw error(op + " on a " + describe(v) + ", not a dict");
        }
        return (Map<Object, Object>) m;
    }

    private void putPairs(Map<Object, Object> m, List<Object> items) {
        if (items.size() % 2 != 0) {
            throw error("a dict's items come in pairs; got " + items.size() + " values");
        }
        for (int i = 0; i < items.size(); i += 2) {
            m.put(key(items.get(i)), items.get(i + 1));
        }
    }

    /** Only immutable scalars as keys: a list or dict could contain itself and hash forever. */
    private Object key(Object k) {
        if (k == null
                || k instanceof String
                || k instanceof Long
                || k instanceof BigInteger
                || k instanceof Double
                || k instanceof Boolean) {
            return k;
        }
        throw error("a dict key that is a " + describe(k) + "; only str, int, float and bool keys are accepted");
    }

    private long integer(Object v, String what) {
        if (v instanceof Long l) {
            return l;
        }
        throw error(what + " must be an int, got a " + describe(v));
    }

    private long[] ints(Object v, String what) {
        if (!(v instanceof Tuple t)) {
            throw error(what + " must be a tuple of ints, got a " + describe(v));
        }
        long[] out = new long[t.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = integer(t.get(i), what);
        }
        return out;
    }

    static String describe(Object v) {
        return switch (v) {
            case null -> "None";
            case String s -> "str";
            case Long l -> "int";
            case BigInteger b -> "int";
            case Double d -> "float";
            case Boolean b -> "bool";
            case byte[] b -> "bytes";
            case Tuple t -> "tuple";
            case List<?> l -> "list";
            case Map<?, ?> m -> "dict";
            case Global g -> "global " + g.dotted();
            case TensorRef t -> "tensor";
            case Opaque o -> o.type().dotted();
            default -> v.getClass().getSimpleName();
        };
    }

    // ------------------------------------------------------------------ bytes

    private void need(long n) {
        if (n < 0 || n > end - pos) {
            throw error("the pickle ends early (" + n + " more bytes wanted, " + (end - pos) + " left)");
        }
    }

    private void skip(long n) {
        need(n);
        pos += n;
    }

    private int u8() {
        need(1);
        return data.get(ValueLayout.JAVA_BYTE, pos++) & 0xFF;
    }

    private int i32le() {
        need(4);
        int v = data.get(ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), pos);
        pos += 4;
        return v;
    }

    private long i64le() {
        need(8);
        long v = data.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), pos);
        pos += 8;
        return v;
    }

    private long i64be() {
        need(8);
        long v = data.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN), pos);
        pos += 8;
        return v;
    }

    /** A length read from the stream, refused when negative or past the end. */
    private long length(long n) {
        need(n);
        return n;
    }

    private byte[] bytes(long n) {
        need(n);
        if (n > MAX_STRING_BYTES) {
            throw error("a string of " + n + " bytes (limit " + MAX_STRING_BYTES + ")");
        }
        byte[] b = data.asSlice(pos, n).toArray(ValueLayout.JAVA_BYTE);
        pos += n;
        return b;
    }

    private String utf8(long n) {
        return new String(bytes(n), StandardCharsets.UTF_8);
    }

    private String latin1(long n) {
        return new String(bytes(n), StandardCharsets.ISO_8859_1);
    }

    /** LONG1/LONG4: a little-endian two's-complement integer of n bytes. */
    private Object longBytes(long n) {
        if (n > MAX_LONG_BYTES) {
            throw error("an integer of " + n + " bytes");
        }
        byte[] le = bytes(n);
        if (n == 0) {
            return 0L;
        }
        byte[] be = new byte[le.length];
        for (int i = 0; i < le.length; i++) {
            be[i] = le[le.length - 1 - i];
        }
        BigInteger v = new BigInteger(be);
        return v.bitLength() < 64 ? (Object) v.longValue() : v;
    }

    /** A text line (protocol 0 arguments), at most 1,024 bytes. */
    private String line() {
        long limit = Math.min(end, pos + 1024);
        for (long i = pos; i < limit; i++) {
            if (data.get(ValueLayout.JAVA_BYTE, i) == '\n') {
                String s =
                        new String(data.asSlice(pos, i - pos).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8);
                pos = i + 1;
                return s;
            }
        }
        throw error(
                limit == end
                        ? "the pickle ends early, inside a text argument"
                        : "a text argument without its newline within 1,024 bytes");
    }

    private Object textInt(String s) {
        return switch (s) {
            case "00" -> Boolean.FALSE;
            case "01" -> Boolean.TRUE;
            default -> textLong(s);
        };
    }

    private Long textLong(String s) {
        String digits = s.endsWith("L") ? s.substring(0, s.length() - 1) : s;
        try {
            return Long.parseLong(digits);
        } catch (NumberFormatException e) {
            throw error("\"" + s + "\" is not an integer");
        }
    }
}
