package org.tessera.engine.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.tessera.engine.backend.Backend;
import org.tessera.engine.backend.Backends;
import org.tessera.engine.parallel.WorkerPool;
import org.tessera.engine.tensor.Tensor;

/** Random weights: one stream per key, independent of order, and no two keys sharing one. */
class WeightBindingTest {
    @Test
    void keysWhoseHashCodesCollideGetDifferentStreams() {
        assertEquals("Aa".hashCode(), "BB".hashCode()); // why String.hashCode was not enough
        assertNotEquals(WeightBinding.streamOf("Aa"), WeightBinding.streamOf("BB"));
    }

    @Test
    void collidingKeysGetDifferentValuesInEitherOrder() {
        List<Arena> owner = Collections.synchronizedList(new ArrayList<>());
        try (WorkerPool pool = new WorkerPool(1)) {
            Backend cpu = Backends.cpu(pool, m -> {});
            WeightSource first = WeightBinding.random(4, 0.02, cpu, owner).source();
            WeightSource second = WeightBinding.random(4, 0.02, cpu, owner).source();
            Tensor aa = first.tensor("Aa", new int[] {8});
            Tensor bb = first.tensor("BB", new int[] {8});
            Tensor bbAgain = second.tensor("BB", new int[] {8});
            Tensor aaAgain = second.tensor("Aa", new int[] {8});
            assertNotEquals(aa.getFloat(0), bb.getFloat(0));
            assertArrayEquals(aa.toFloatArray(), aaAgain.toFloatArray());
            assertArrayEquals(bb.toFloatArray(), bbAgain.toFloatArray());
        } finally {
            owner.forEach(Arena::close);
        }
    }

    @Test
    void aNanInACheckpointIsNamedWithItsTensorAndElement(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
            throws Exception {
        java.util.SequencedMap<String, Tensor> tensors = new java.util.LinkedHashMap<>();
        tensors.put("a", Tensor.of(new float[] {1, 2, 3}, 3));
        tensors.put("b", Tensor.of(new float[] {0, 1, Float.POSITIVE_INFINITY, Float.NaN}, 2, 2));
        java.nio.file.Path file = dir.resolve("w.safetensors");
        SafetensorsWriter.write(file, tensors);
        try (SafetensorsReader r = SafetensorsReader.open(file)) {
            assertEquals(
                    "weights w.safetensors: tensor 'b' holds Infinity at element 2 (a corrupt or diverged checkpoint)",
                    WeightBinding.nonFinite(r));
        }
        tensors.put("b", Tensor.of(new float[] {0, 1, 2, 3}, 2, 2));
        SafetensorsWriter.write(file, tensors);
        try (SafetensorsReader r = SafetensorsReader.open(file)) {
            org.junit.jupiter.api.Assertions.assertNull(WeightBinding.nonFinite(r));
        }
    }
}
