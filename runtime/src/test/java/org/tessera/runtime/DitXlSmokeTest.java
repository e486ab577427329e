package org.tessera.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.tessera.engine.tensor.Tensor;
import org.tessera.testing.RepoFiles;

/** The full-size DiT-XL/2 (256×256, 675 M parameters) with random weights: two guided DDIM steps on the CPU. */
class DitXlSmokeTest {
    @Test
    void twoGuidedDdimStepsOnTheCpu() {
        try (Pipeline p = Tessera.compile(RepoFiles.sample("dit-xl-2-random.tess"))) {
            assertEquals("DiT", p.modelName());
            assertArrayEquals(new int[] {4, 4, 32, 32}, p.inputShapes().get("x")); // 2 classes × (cond, uncond)
            int[] steps = {0};
            Tensor samples = p.sample(0, (step, total, t, x, x0) -> steps[0]++);
            assertEquals(2, steps[0]);
            assertArrayEquals(new int[] {2, 4, 32, 32}, samples.shape());
            for (float v : samples.toFloatArray()) {
                assertTrue(Float.isFinite(v));
            }
        }
    }
}
