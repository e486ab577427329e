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
}
