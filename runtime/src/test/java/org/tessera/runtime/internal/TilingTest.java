package org.tessera.runtime.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.tessera.engine.tensor.Tensor;

/** Tiled application: where tiles start, how their ramps weigh, and that blending loses nothing. */
class TilingTest {
    @Test
    void tilesOverlapAndTheLastSitsFlushWithTheEdge() {
        assertEquals(List.of(0, 24, 48, 72, 96), Tiling.starts(128, 32, 8));
        assertEquals(List.of(0, 24, 36), Tiling.starts(68, 32, 8), "the last tile overlaps more, not less");
        assertEquals(List.of(0), Tiling.starts(20, 20, 5), "an axis no longer than the tile is one tile");
    }

    @Test
    void rampsOfNeighbouringTilesSumToOne() {
        float[] left = Tiling.ramp(32, 0, 8);
        float[] right = Tiling.ramp(32, 8, 0);
        for (int i = 0; i < 8; i++) {
            assertEquals(1f, left[24 + i] + right[i], 1e-6f, "at overlap pixel " + i);
        }
        assertEquals(1f, left[0]);
        assertEquals(1f, right[31]);
    }

    /**
     * A model that acts on each pixel alone (here ×8 nearest upsampling and a per-channel affine
     * map to 3 channels): its tiled result must equal the whole one, whatever the tiling.
     */
    @Test
    void aPixelwiseModelGivesTheSameResultTiledAsWhole() {
        SplittableRandom random = new SplittableRandom(5);
        float[] v = new float[2 * 4 * 37 * 29];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) random.nextGaussian();
        }
        Tensor x = Tensor.of(Arena.ofAuto(), v, 2, 4, 37, 29);
        AtomicInteger calls = new AtomicInteger();
        java.util.function.UnaryOperator<Tensor> model = t -> {
            calls.incrementAndGet();
            int n = t.size(0);
            int h = t.size(2);
            int w = t.size(3);
            float[] out = new float[n * 3 * 8 * h * 8 * w];
            for (int b = 0; b < n; b++) {
                for (int c = 0; c < 3; c++) {
                    for (int y = 0; y < 8 * h; y++) {
                        for (int xx = 0; xx < 8 * w; xx++) {
                            float s = t.getFloat(b, c, y / 8, xx / 8) * (c + 1) - t.getFloat(b, 3, y / 8, xx / 8);
                            out[((b * 3 + c) * 8 * h + y) * 8 * w + xx] = s;
                        }
                    }
                }
            }
            return Tensor.of(Arena.ofAuto(), out, n, 3, 8 * h, 8 * w);
        };
        Tensor whole = model.apply(x);
        calls.set(0);
        Tensor tiled = Tiling.apply(model, x, 16, 4, "test");
        assertEquals(9, calls.get(), "3 × 3 tiles of 16 over 37 × 29");
        assertArrayEquals(whole.shape(), tiled.shape());
        float[] a = whole.toFloatArray();
        float[] b = tiled.toFloatArray();
        for (int i = 0; i < a.length; i++) {
            assertEquals(a[i], b[i], 1e-5f * Math.max(1f, Math.abs(a[i])), "at " + i);
        }
        assertTrue(a.length == 2 * 3 * 8 * 37 * 8 * 29);
    }

    /**
     * Two tiles whose outputs are each a constant (the column where the tile starts): across the
     * overlap the result ramps linearly from one to the other, and outside it is each tile's own.
     */
    @Test
    void theOverlapRampsLinearlyFromOneTileToTheNext() {
        float[] v = new float[24];
        for (int i = 0; i < v.length; i++) {
            v[i] = i;
        }
        Tensor x = Tensor.of(Arena.ofAuto(), v, 1, 1, 1, 24);
        java.util.function.UnaryOperator<Tensor> constant = t -> {
            float[] out = new float[t.size(3)];
            java.util.Arrays.fill(out, t.getFloat(0, 0, 0, 0));
            return Tensor.of(Arena.ofAuto(), out, 1, 1, 1, t.size(3));
        };
        float[] r = Tiling.apply(constant, x, 16, 8, "ramp").toFloatArray(); // tiles at 0 and 8
        for (int c = 0; c < 24; c++) {
            float want = c < 8 ? 0f : c >= 16 ? 8f : c - 7.5f; // 8·(j + ½)/8 at overlap column 8 + j
            assertEquals(want, r[c], 1e-5f, "column " + c);
        }
    }

    /** An encoder halves the size: its tiles must start on even pixels, and then blend as well. */
    @Test
    void aDownscalingModelTilesOnWholeOutputPixels() {
        float[] v = new float[2 * 20 * 20];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) Math.sin(i);
        }
        Tensor x = Tensor.of(Arena.ofAuto(), v, 1, 2, 20, 20);
        java.util.function.UnaryOperator<Tensor> half = t -> { // 2×2 average pooling: ÷2
            int h = t.size(2) / 2;
            int w = t.size(3) / 2;
            float[] out = new float[2 * h * w];
            for (int c = 0; c < 2; c++) {
                for (int y = 0; y < h; y++) {
                    for (int xx = 0; xx < w; xx++) {
                        out[(c * h + y) * w + xx] = (t.getFloat(0, c, 2 * y, 2 * xx)
                                        + t.getFloat(0, c, 2 * y + 1, 2 * xx)
                                        + t.getFloat(0, c, 2 * y, 2 * xx + 1)
                                        + t.getFloat(0, c, 2 * y + 1, 2 * xx + 1))
                                / 4;
                    }
                }
            }
            return Tensor.of(Arena.ofAuto(), out, 1, 2, h, w);
        };
        float[] whole = half.apply(x).toFloatArray();
        float[] tiled = Tiling.apply(half, x, 8, 2, "encode").toFloatArray(); // starts 0, 6, 12: even
        assertArrayEquals(
                new int[] {1, 2, 10, 10}, Tiling.apply(half, x, 8, 2, "encode").shape());
        for (int i = 0; i < whole.length; i++) {
            assertEquals(whole[i], tiled[i], 1e-5f, "at " + i);
        }
        IllegalArgumentException odd = org.junit.jupiter.api.Assertions.assertThrows(
                IllegalArgumentException.class, () -> Tiling.apply(half, x, 8, 3, "encode")); // starts 0, 5, …
        assertTrue(odd.getMessage().contains("must be a multiple of 2"), odd.getMessage());
    }
}
