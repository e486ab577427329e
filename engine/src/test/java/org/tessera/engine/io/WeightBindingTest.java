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
}
