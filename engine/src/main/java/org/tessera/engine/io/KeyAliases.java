package org.tessera.engine.io;

import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.SequencedSet;
import java.util.Set;
import java.util.function.UnaryOperator;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Tensor;

/**
 * A weight file seen under other key names. {@link #apply}: older spellings that name the same
 * weights — diffusers renamed the VAE's mid-block attention ({@code query}, {@code key},
 * {@code value}, {@code proj_attn} became {@code to_q}, {@code to_k}, {@code to_v},
 * {@code to_out.0}) after checkpoints such as sd-vae-ft-ema were published, and converts them when
 * it loads one; so does this. {@link #renamed}: a user's mapping of one model's names onto
 * another's.
 */
public final class KeyAliases {
    /** New infix → old infix. */
    private static final Map<String, String> RENAMED = Map.of(
            ".to_q.", ".query.",
            ".to_k.", ".key.",
            ".to_v.", ".value.",
            ".to_out.0.", ".proj_attn.");

    private KeyAliases() {}

    /**
     * {@code file} seen under the model's key names where it spells a missing key the old way;
     * {@code file} itself when nothing needs renaming.
     */
    public static WeightFile apply(WeightFile file, Set<String> expected) {
        Map<String, String> modelToFile = new LinkedHashMap<>();
        for (String key : expected) {
            if (file.contains(key)) {
                continue;
            }
            for (Map.Entry<String, String> r : RENAMED.entrySet()) {
                if (key.contains(r.getKey())) {
                    String old = key.replace(r.getKey(), r.getValue());
                    if (file.contains(old) && !expected.contains(old)) {
                        modelToFile.put(key, old);
                    }
                }
            }
        }
        return modelToFile.isEmpty() ? file : new Renamed(file, modelToFile);
    }

    /**
     * {@code file} with each key {@code k} seen as {@code rename(k)}: a user's mapping of one
     * model's names onto another's (an image DiT's blocks as a Latte's spatial ones).
     *
     * @throws WeightsFormatException where two of the file's tensors would take one name
     */
    public static WeightFile renamed(WeightFile file, UnaryOperator<String> rename) throws WeightsFormatException {
        Map<String, String> modelToFile = new LinkedHashMap<>();
        Map<String, String> taken = new LinkedHashMap<>();
        for (String key : file.names()) {
            String name = rename.apply(key);
            String other = taken.putIfAbsent(name, key);
            if (other != null) {
                throw new WeightsFormatException(
                        file.path() + ": '" + other + "' and '" + key + "' would both be read as '" + name + "'");
            }
            if (!name.equals(key)) {
                modelToFile.put(name, key);
            }
        }
        return modelToFile.isEmpty() ? file : new Renamed(file, modelToFile);
    }

    /** A view of a weight file with some of its tensors under new names. */
    private record Renamed(WeightFile file, Map<String, String> modelToFile, Map<String, String> fileToModel)
            implements WeightFile {
        Renamed(WeightFile file, Map<String, String> modelToFile) {
            this(file, Map.copyOf(modelToFile), inverse(modelToFile));
        }

        private static Map<String, String> inverse(Map<String, String> modelToFile) {
            Map<String, String> out = new LinkedHashMap<>();
            modelToFile.forEach((m, f) -> out.put(f, m));
            return Map.copyOf(out);
        }

        /** The file's key for a name of this view; a key renamed away is not one of its names. */
        private String fileKey(String name) {
            String key = modelToFile.get(name);
            if (key != null) {
                return key;
            }
            if (fileToModel.containsKey(name)) {
                throw new IllegalArgumentException(
                        file.path() + ": '" + name + "' is read as '" + fileToModel.get(name) + "'");
            }
            return name;
        }

        @Override
        public Path path() {
            return file.path();
        }

        @Override
        public SequencedSet<String> names() {
            SequencedSet<String> out = new LinkedHashSet<>();
            for (String n : file.names()) {
                out.add(fileToModel.getOrDefault(n, n));
            }
            return Collections.unmodifiableSequencedSet(out);
        }

        @Override
        public boolean contains(String name) {
            return modelToFile.containsKey(name) || (!fileToModel.containsKey(name) && file.contains(name));
        }

        @Override
        public DType dtype(String name) {
            return file.dtype(fileKey(name));
        }

        @Override
        public int[] shape(String name) {
            return file.shape(fileKey(name));
        }

        @Override
        public Tensor tensor(String name) {
            return file.tensor(fileKey(name));
        }

        @Override
        public Map<String, String> metadata() {
            return file.metadata();
        }

        @Override
        public void close() {
            file.close();
        }
    }
}
