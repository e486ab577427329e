package org.tessera.engine.io;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.tessera.engine.backend.Backend;
import org.tessera.engine.random.RandomStream;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Tensor;

/** Binds a model's declared weights to tensors: from a checkpoint, random, or placeholders. */
public final class WeightBinding {
    private static final int LISTED = 8;

    /**
     * Weight tensors by key, and what to do with one once the compiled plan no longer reads it
     * (its packed copy replaced it): free it, or drop its pages from memory.
     */
    public record Bound(WeightSource source, Consumer<Tensor> release) {}

    private WeightBinding() {}

    /**
     * Compares a checkpoint with the model's weights and returns every problem at once (missing
     * keys, unexpected keys, shape mismatches), or null when they fit.
     */
    public static String mismatch(WeightFile file, Map<String, int[]> expected, String modelName) {
        List<String> missing = new ArrayList<>();
        List<String> shapes = new ArrayList<>();
        for (Map.Entry<String, int[]> e : expected.entrySet()) {
            if (!file.contains(e.getKey())) {
                missing.add(e.getKey());
            } else if (!Arrays.equals(file.shape(e.getKey()), e.getValue())) {
                shapes.add(e.getKey() + " is " + Arrays.toString(file.shape(e.getKey())) + " in the file but "
                        + Arrays.toString(e.getValue()) + " in the model");
            } else if (!file.dtype(e.getKey()).isFloatingPoint()) {
                shapes.add(e.getKey() + " has dtype " + file.dtype(e.getKey()).shortName() + ", not a float type");
            }
        }
        List<String> unexpected =
                file.names().stream().filter(n -> !expected.containsKey(n)).toList();
        if (missing.isEmpty() && unexpected.isEmpty() && shapes.isEmpty()) {
            return null;
        }
        StringBuilder sb = new StringBuilder("weights " + file.path().getFileName() + " do not fit " + modelName + ":");
        list(sb, missing, "missing key");
        list(sb, unexpected, "unexpected key");
        list(sb, shapes, "shape mismatch");
        return sb.toString();
    }

    /**
     * The first weight holding a NaN or an infinity, as a message naming the file, the tensor and
     * the element; null when every value is finite. A corrupt or diverged checkpoint is refused
     * here, rather than as a NaN in the first sampler step that does not say where it came from.
     */
    public static String nonFinite(WeightFile file) {
        for (String name : file.names()) {
            if (!file.dtype(name).isFloatingPoint()) {
                continue;
            }
            Tensor t = file.tensor(name);
            long bad = -1;
            float value = 0;
            if (t.dtype() == DType.F32) {
                MemorySegment s = t.storage();
                long base = t.byteOffset();
                for (long i = 0, n = t.numel(); i < n; i++) {
                    float v = s.get(ValueLayout.JAVA_FLOAT_UNALIGNED, base + 4 * i);
                    if (!Float.isFinite(v)) {
                        bad = i;
                        value = v;
                        break;
                    }
                }
            } else {
                float[] values = t.toFloatArray(); // F16, BF16, F64: small in the checkpoints that use them
                for (int i = 0; i < values.length; i++) {
                    if (!Float.isFinite(values[i])) {
                        bad = i;
                        value = values[i];
                        break;
                    }
                }
            }
            if (bad >= 0) {
                return "weights " + file.path().getFileName() + ": tensor '" + name + "' holds " + value
                        + " at element " + bad + " (a corrupt or diverged checkpoint)";
            }
        }
        return null;
    }

    private static void list(StringBuilder sb, List<String> items, String what) {
        if (items.isEmpty()) {
            return;
        }
        sb.append("\n    ")
                .append(items.size())
                .append(' ')
                .append(what)
                .append(items.size() == 1 ? "" : "s")
                .append(": ")
                .append(String.join(", ", items.subList(0, Math.min(LISTED, items.size()))));
        if (items.size() > LISTED) {
            sb.append(", … (").append(items.size() - LISTED).append(" more)");
        }
    }

    /**
     * Weights from a checked checkpoint: F32 tensors are zero-copy views of the mapped file
     * (released by unloading their pages; the file stays mapped), others are converted once.
     */
    public static Bound checkpoint(WeightFile file, Arena arena) {
        WeightSource source = (key, shape) -> {
            Tensor t = file.tensor(key);
            return t.dtype() == DType.F32 ? t : t.to(DType.F32, arena);
        };
        return new Bound(source, t -> {
            MemorySegment s = t.storage();
            if (s.isMapped()) {
                s.asSlice(t.byteOffset(), t.numel() * t.dtype().byteSize()).unload();
            }
        });
    }

    /**
     * N(0, std²) weights from a seed; each key draws from its own stream ({@link #streamOf}), so
     * values do not depend on the order weights are asked for. Each weight has its own arena so
     * that it can be freed once packed; the rest close with {@code owner}.
     */
    public static Bound random(long seed, double std, Backend backend, List<Arena> owner) {
        Map<Tensor, Arena> arenas = new IdentityHashMap<>();
        WeightSource source = (key, shape) -> {
            Arena a = Arena.ofShared();
            Tensor t = Tensor.zeros(a, DType.F32, shape);
            synchronized (arenas) {
                arenas.put(t, a);
                owner.add(a);
            }
            new RandomStream(seed, streamOf(key)).fillNormal(t, backend.pool());
            backend.elementwise().axpby((float) std, t, 0f, t, t); // t = std·t, in place
            return t;
        };
        return new Bound(source, t -> {
            synchronized (arenas) {
                Arena a = arenas.remove(t);
                if (a != null) {
                    owner.remove(a);
                    a.close();
                }
            }
        });
    }

    /**
     * Weights as the model declares they start ({@code inits}, by key), each drawing from its own
     * stream of {@code seed} as {@link #random} does; a weight without a declared start is
     * N(0, {@code std}²). Fixed tables (a sin-cos position table) are exact.
     */
    public static Bound initialized(
            long seed, Map<String, WeightInit> inits, double std, Backend backend, List<Arena> owner) {
        Bound random = random(seed, std, backend, owner);
        WeightSource source = (key, shape) -> {
            Tensor t = random.source().tensor(key, shape);
            WeightInit init = inits.get(key);
            if (init != null) {
                init.fill(t, new RandomStream(seed, streamOf(key)), backend);
            }
            return t;
        };
        return new Bound(source, random.release());
    }

    /**
     * The random stream of weight {@code key}: the first 8 bytes of SHA-256 of its UTF-8 bytes.
     * {@code String.hashCode} was used before, and its 32 bits collide for ordinary keys ("Aa"
     * and "BB"; in a model with many weights, some pair by chance), which gave two weights the
     * same values. 64 bits of a cryptographic hash make a collision among a model's few thousand
     * keys a chance of about 10⁻¹³.
     */
    public static long streamOf(String key) {
        try {
            byte[] h = java.security.MessageDigest.getInstance("SHA-256")
                    .digest(key.getBytes(java.nio.charset.StandardCharsets.UTF_8));
            return java.nio.ByteBuffer.wrap(h).getLong();
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is required of every Java platform", e);
        }
    }

    /** Shape-only stand-ins for checking: one zero broadcast to the shape (no memory per weight). */
    public static WeightSource placeholders() {
        Tensor zero = Tensor.of(new float[] {0f}, 1);
        return (key, shape) -> {
            Tensor t = zero;
            if (shape.length == 0) {
                return t.reshape();
            }
            int[] ones = new int[shape.length];
            Arrays.fill(ones, 1);
            return t.reshape(ones).expand(shape);
        };
    }
}
