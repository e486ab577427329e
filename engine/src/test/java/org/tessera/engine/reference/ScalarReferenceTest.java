package org.tessera.engine.reference;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Tensor;

/** Sanity checks of the scalar references against values worked out by hand. */
class ScalarReferenceTest {

    @Test
    void layerNormRowsHaveMeanZeroAndVarianceOne() {
        Tensor x = Tensor.of(new float[] {1, 2, 3, 4, 10, -10, 5, 7}, 2, 4);
        Tensor out = Tensor.zeros(DType.F32, 2, 4);
        new ScalarNorms().layerNorm(x, null, null, 0f, out);
        float[] v = out.toFloatArray();
        for (int r = 0; r < 2; r++) {
            double mean = 0;
            double sq = 0;
            for (int i = 0; i < 4; i++) {
                mean += v[r * 4 + i] / 4.0;
                sq += v[r * 4 + i] * v[r * 4 + i] / 4.0;
            }
            assertEquals(0, mean, 1e-6);
            assertEquals(1, sq - mean * mean, 1e-5);
        }
        // [1, 2, 3, 4]: mean 2.5, variance 1.25.
        assertEquals((float) (-1.5 / Math.sqrt(1.25)), v[0], 1e-6);
    }

    @Test
    void layerNormAffineAndGroupNormOfOneGroupPerChannel() {
        Tensor x = Tensor.of(new float[] {1, 3, 5, 7}, 1, 4);
        Tensor out = Tensor.zeros(DType.F32, 1, 4);
        new ScalarNorms()
                .layerNorm(x, Tensor.of(new float[] {2, 2, 2, 2}, 4), Tensor.of(new float[] {1, 1, 1, 1}, 4), 0f, out);
        double s = Math.sqrt(5); // variance of {1, 3, 5, 7} is 5
        assertArrayEquals(
                new float[] {(float) (1 - 6 / s), (float) (1 - 2 / s), (float) (1 + 2 / s), (float) (1 + 6 / s)},
                out.toFloatArray(),
                1e-6f);
        // GroupNorm with a group per channel of [1, 2, 2] normalises each channel's pair to ±1.
        Tensor g = Tensor.of(new float[] {1, 3, 10, 20}, 1, 2, 2);
        Tensor gout = Tensor.zeros(DType.F32, 1, 2, 2);
        new ScalarNorms().groupNorm(g, 2, null, Tensor.of(new float[] {0, 5}, 2), 0f, gout);
        assertArrayEquals(new float[] {-1, 1, 4, 6}, gout.toFloatArray(), 1e-6f);
    }

    @Test
    void softmaxRowsSumToOne() {
        Tensor x = Tensor.of(new float[] {0, 0, 0, 0, 1, 2, 3, 1000}, 2, 4);
        Tensor out = Tensor.zeros(DType.F32, 2, 4);
        new ScalarNorms().softmax(x, out);
        float[] v = out.toFloatArray();
        assertArrayEquals(new float[] {0.25f, 0.25f, 0.25f, 0.25f, 0, 0, 0, 1}, v, 1e-7f);
    }

    @Test
    void timestepEmbeddingAtZeroIsCosinesOneThenSinesZero() {
        Tensor out = Tensor.zeros(DType.F32, 2, 7);
        new ScalarTables().timestepEmbedding(Tensor.of(new float[] {0, 1}, 2), 10000, out);
        assertArrayEquals(new float[] {1, 1, 1, 0, 0, 0, 0}, out.select(0, 0).toFloatArray());
        // t = 1, half = 3: frequencies 1, 10000^(−1/3), 10000^(−2/3); cos first, zero column last.
        double f1 = Math.pow(10000, -1.0 / 3);
        double f2 = Math.pow(10000, -2.0 / 3);
        assertArrayEquals(
                new float[] {
                    (float) Math.cos(1),
                    (float) Math.cos(f1),
                    (float) Math.cos(f2),
                    (float) Math.sin(1),
                    (float) Math.sin(f1),
                    (float) Math.sin(f2),
                    0
                },
                out.select(0, 1).toFloatArray());
    }

    @Test
    void sinCosTablesPutSinesFirstAndColumnsBeforeRows() {
        Tensor one = Tensor.zeros(DType.F32, 1, 4);
        new ScalarTables().sinCos1d(Tensor.of(new float[] {1}, 1), one);
        // dim 4: ω = [1, 10000^(−1/2)] = [1, 0.01].
        assertArrayEquals(
                new float[] {(float) Math.sin(1), (float) Math.sin(0.01), (float) Math.cos(1), (float) Math.cos(0.01)},
                one.toFloatArray(),
                1e-7f);
        // 2 × 3 grid, dim 8: token (row 1, column 2) = [1-D(4) of 2, 1-D(4) of 1].
        Tensor grid = Tensor.zeros(DType.F32, 6, 8);
        new ScalarTables().sinCos2d(2, 3, grid);
        Tensor cols = Tensor.zeros(DType.F32, 1, 4);
        Tensor rows = Tensor.zeros(DType.F32, 1, 4);
        new ScalarTables().sinCos1d(Tensor.of(new float[] {2}, 1), cols);
        new ScalarTables().sinCos1d(Tensor.of(new float[] {1}, 1), rows);
        float[] token = grid.select(0, 5).toFloatArray();
        assertArrayEquals(cols.toFloatArray(), java.util.Arrays.copyOfRange(token, 0, 4));
        assertArrayEquals(rows.toFloatArray(), java.util.Arrays.copyOfRange(token, 4, 8));
        // Token 0 is position (0, 0): sines 0, cosines 1.
        assertArrayEquals(
                new float[] {0, 0, 1, 1, 0, 0, 1, 1}, grid.select(0, 0).toFloatArray());
    }

    @Test
    void conv2dOfAHandComputedThreeByThreeCase() {
        // x = 1..9 as 3×3; an all-ones 3×3 kernel with padding 1 sums each 3×3 neighbourhood.
        Tensor x = Tensor.of(new float[] {1, 2, 3, 4, 5, 6, 7, 8, 9}, 1, 1, 3, 3);
        Tensor w = Tensor.of(new float[] {1, 1, 1, 1, 1, 1, 1, 1, 1}, 1, 1, 3, 3);
        Tensor out = Tensor.zeros(DType.F32, 1, 1, 3, 3);
        new ScalarConv().conv2d(x, w, Tensor.of(new float[] {0.5f}, 1), 1, 1, out);
        assertArrayEquals(
                new float[] {12.5f, 21.5f, 16.5f, 27.5f, 45.5f, 33.5f, 24.5f, 39.5f, 28.5f}, out.toFloatArray());
        // Stride 2 keeps the corners; a 2×2 kernel [[1, 0], [0, −1]] without padding takes x[i][j] − x[i+1][j+1].
        Tensor strided = Tensor.zeros(DType.F32, 1, 1, 2, 2);
        new ScalarConv().conv2d(x, w, null, 2, 1, strided);
        assertArrayEquals(new float[] {12, 16, 24, 28}, strided.toFloatArray());
        Tensor diag = Tensor.zeros(DType.F32, 1, 1, 2, 2);
        new ScalarConv().conv2d(x, Tensor.of(new float[] {1, 0, 0, -1}, 1, 1, 2, 2), null, 1, 0, diag);
        assertArrayEquals(new float[] {-4, -4, -4, -4}, diag.toFloatArray());
    }

    @Test
    void patchEmbedOfAHandComputedCase() {
        // A 2×4 single-channel image cut into two 2×2 patches; D = 2 features: patch sum and top-left pixel.
        Tensor x = Tensor.of(new float[] {1, 2, 3, 4, 5, 6, 7, 8}, 1, 1, 2, 4);
        Tensor w = Tensor.of(new float[] {1, 1, 1, 1, 1, 0, 0, 0}, 2, 1, 2, 2);
        Tensor out = Tensor.zeros(DType.F32, 1, 2, 2);
        new ScalarConv().patchEmbed2d(x, w, Tensor.of(new float[] {0, 100}, 2), out);
        assertArrayEquals(new float[] {14, 101, 22, 103}, out.toFloatArray());
        Tensor up = Tensor.zeros(DType.F32, 1, 1, 4, 8);
        new ScalarConv().upsampleNearest2d(x, 2, up);
        assertArrayEquals(
                new float[] {1, 1, 2, 2, 3, 3, 4, 4}, up.select(2, 1).reshape(8).toFloatArray());
    }

    @Test
    void broadcastingAndModulate() {
        Tensor a = Tensor.of(new float[] {1, 2}, 2, 1);
        Tensor b = Tensor.of(new float[] {10, 20, 30}, 1, 3);
        Tensor out = Tensor.zeros(DType.F32, 2, 3);
        new ScalarElementwise().add(a, b, out);
        assertArrayEquals(new float[] {11, 21, 31, 12, 22, 32}, out.toFloatArray());
        // x·(1 + scale) + shift with per-column shift and scale.
        Tensor x = Tensor.of(new float[] {1, 2, 3, 4}, 2, 2);
        Tensor m = Tensor.zeros(DType.F32, 2, 2);
        new ScalarElementwise()
                .modulate(x, Tensor.of(new float[] {10, 20}, 2), Tensor.of(new float[] {1, -1}, 1, 2), m);
        assertArrayEquals(new float[] {12, 20, 16, 20}, m.toFloatArray());
    }
}
