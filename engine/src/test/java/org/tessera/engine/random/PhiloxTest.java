package org.tessera.engine.random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.tessera.engine.parallel.WorkerPool;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Tensor;

class PhiloxTest {

    /** Known-answer vectors of Random123's kat_vectors for philox4x32_10. */
    @Test
    void matchesRandom123KnownAnswers() {
        int[] out = new int[4];
        Philox.block(0, 0, 0, 0, 0, 0, out);
        assertArrayEquals(new int[] {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}, out);
        Philox.block(-1, -1, -1, -1, -1, -1, out);
        assertArrayEquals(new int[] {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}, out);
        Philox.block(0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, out);
        assertArrayEquals(new int[] {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}, out);
    }

    @Test
    void fillsAreIdenticalOnAnyThreadCount() {
        int n = 3 * (1 << 14) + 7; // several tasks and a tail
        float[][] normals = new float[3][];
        float[][] uniforms = new float[3][];
        int[] threads = {1, 2, 8};
        for (int i = 0; i < threads.length; i++) {
            try (WorkerPool pool = new WorkerPool(threads[i])) {
                Tensor t = Tensor.zeros(DType.F32, n);
                new RandomStream(42, 3).fillNormal(t, pool);
                normals[i] = t.toFloatArray();
                new RandomStream(42, 3).fillUniform(t, pool);
                uniforms[i] = t.toFloatArray();
            }
        }
        assertArrayEquals(normals[0], normals[1]);
        assertArrayEquals(normals[0], normals[2]);
        assertArrayEquals(uniforms[0], uniforms[2]);
        RandomStream s = new RandomStream(42, 3);
        assertEquals(s.normal(n - 1), normals[0][n - 1]);
        assertEquals(s.uniform(12345), uniforms[1][12345]);
    }

    @Test
    void streamsAndSeedsDiffer() {
        RandomStream a = new RandomStream(1, 0);
        assertTrue(a.normal(0) != a.withStream(1).normal(0));
        assertTrue(a.normal(0) != new RandomStream(2, 0).normal(0));
    }

    @Test
    void normalMomentsAndUniformRange() {
        try (WorkerPool pool = new WorkerPool(2)) {
            int n = 200_000;
            Tensor t = Tensor.zeros(DType.F32, n);
            new RandomStream(7, 0).fillNormal(t, pool);
            double sum = 0;
            double sq = 0;
            double fourth = 0;
            for (float v : t.toFloatArray()) {
                sum += v;
                sq += v * v;
                fourth += (double) v * v * v * v;
            }
            double mean = sum / n;
            double var = sq / n - mean * mean;
            assertEquals(0, mean, 0.01);
            assertEquals(1, var, 0.01);
            assertEquals(3, fourth / n, 0.05); // kurtosis of a Gaussian
            new RandomStream(7, 1).fillUniform(t, pool);
            double usum = 0;
            for (float v : t.toFloatArray()) {
                assertTrue(v >= 0 && v < 1);
                usum += v;
            }
            assertEquals(0.5, usum / n, 0.005);
        }
    }
}
