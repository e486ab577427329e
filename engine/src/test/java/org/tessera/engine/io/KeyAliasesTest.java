package org.tessera.engine.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.SequencedMap;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessera.engine.tensor.Tensor;

/** A weight file under other names: diffusers' old VAE spellings, and a user's prefix renames. */
class KeyAliasesTest {
    @TempDir
    Path dir;

    /** blocks.0, blocks.1, blocks.2 and head, each a one-element tensor holding its own index. */
    private WeightFile file() throws Exception {
        SequencedMap<String, Tensor> tensors = new LinkedHashMap<>();
        List<String> keys = List.of("blocks.0.w", "blocks.1.w", "blocks.2.w", "head.w");
        for (int i = 0; i < keys.size(); i++) {
            tensors.put(keys.get(i), Tensor.of(new float[] {i}, 1));
        }
        Path path = dir.resolve("w.safetensors");
        SafetensorsWriter.write(path, tensors);
        return WeightFile.open(path);
    }

    private static float value(WeightFile f, String name) {
        return f.tensor(name).getFloat(0);
    }

    /**
     * Every other block, as an image model's blocks become a Latte's spatial ones: 1 → 2 while
     * 2 → 4. Each original key is mapped once, so blocks.1 does not go on to 4.
     */
    @Test
    void chainedRenamesReadEachTensorOnceUnderItsNewName() throws Exception {
        try (WeightFile f = KeyAliases.renamed(file(), k -> switch (k.substring(0, k.indexOf('.', 7) + 1)) {
            case "blocks.1." -> "blocks.2." + k.substring(9);
            case "blocks.2." -> "blocks.4." + k.substring(9);
            default -> k;
        })) {
            assertEquals(List.of("blocks.0.w", "blocks.2.w", "blocks.4.w", "head.w"), List.copyOf(f.names()));
            assertEquals(0f, value(f, "blocks.0.w"));
            assertEquals(1f, value(f, "blocks.2.w"));
            assertEquals(2f, value(f, "blocks.4.w"));
            assertEquals(3f, value(f, "head.w"));
            assertArrayEquals(new int[] {1}, f.shape("blocks.4.w"));
            for (String name : f.names()) {
                assertTrue(f.contains(name), name);
            }
            assertFalse(f.contains("blocks.1.w"));
            // a key renamed away is not a name of the view, even if asked for directly
            assertThrows(IllegalArgumentException.class, () -> f.tensor("blocks.1.w"));
        }
    }

    @Test
    void aSwapIsTwoRenames() throws Exception {
        try (WeightFile f = KeyAliases.renamed(
                file(),
                k -> k.startsWith("blocks.0.")
                        ? "blocks.1." + k.substring(9)
                        : k.startsWith("blocks.1.") ? "blocks.0." + k.substring(9) : k)) {
            assertEquals(1f, value(f, "blocks.0.w"));
            assertEquals(0f, value(f, "blocks.1.w"));
            assertTrue(f.contains("blocks.0.w") && f.contains("blocks.1.w"));
        }
    }

    @Test
    void twoKeysOntoOneNameAreAnError() throws Exception {
        WeightFile f = file();
        WeightsFormatException e = assertThrows(
                WeightsFormatException.class, () -> KeyAliases.renamed(f, k -> k.replace("blocks.1.", "blocks.0.")));
        f.close();
        assertTrue(
                e.getMessage().endsWith("'blocks.0.w' and 'blocks.1.w' would both be read as 'blocks.0.w'"),
                e.getMessage());
    }

    @Test
    void nothingRenamedIsTheFileItself() throws Exception {
        try (WeightFile f = file()) {
            assertSame(f, KeyAliases.renamed(f, k -> k));
            assertSame(f, KeyAliases.apply(f, Set.of("blocks.0.w")));
        }
    }
}
