package org.tessera.engine.diffusion;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.ShapeMismatchException;
import org.tessera.engine.tensor.Tensor;

/** Video LDM's context frames: the given frames at the front, a mask channel, zeros elsewhere. */
class ContextFramesTest {
    /** Clips [N, F, C, H, W] whose every value names its place: n·1000 + f·100 + c·10 + pixel. */
    private static Tensor numbered(int n, int frames, int channels, int side) {
        Tensor t = Tensor.zeros(DType.F32, n, frames, channels, side, side);
        for (int b = 0; b < n; b++) {
            for (int f = 0; f < frames; f++) {
                for (int c = 0; c < channels; c++) {
                    for (int p = 0; p < side * side; p++) {
                        t.setFloat(b * 1000 + f * 100 + c * 10 + p, b, f, c, p / side, p % side);
                    }
                }
            }
        }
        return t;
    }

    @Test
    void eachClipGetsItsOwnFramesAtTheFrontAndAMaskOverThem() {
        // three clips of 5 source frames, 2 channels, 3×3 (an odd plane); contexts of 4 frames
        Tensor clips = numbered(3, 5, 2, 3);
        Tensor context = Tensor.zeros(DType.F32, 3, 4, 3, 3, 3);
        context.copyFrom(Tensor.of(filled(3 * 4 * 3 * 9, 7f), 3, 4, 3, 3, 3)); // stale values must go
        int[] from = {0, 3, 1};
        int[] count = {2, 2, 0};
        int[][] maps = new int[3][];
        for (int b = 0; b < 3; b++) {
            maps[b] = ContextFrames.leading(4, from[b], count[b]);
        }
        ContextFrames.fill(clips, maps, context);
        for (int b = 0; b < 3; b++) {
            for (int f = 0; f < 4; f++) {
                boolean given = f < count[b];
                for (int p = 0; p < 9; p++) {
                    for (int c = 0; c < 2; c++) {
                        float want = given ? b * 1000 + (from[b] + f) * 100 + c * 10 + p : 0f;
                        assertEquals(want, context.getFloat(b, f, c, p / 3, p % 3), "clip " + b + " frame " + f);
                    }
                    assertEquals(given ? 1f : 0f, context.getFloat(b, f, 2, p / 3, p % 3), "mask of " + b + ", " + f);
                }
            }
        }
    }

    @Test
    void aViewOfTheClipsReadsAsTheClipsDo() {
        Tensor clips = numbered(2, 6, 1, 2);
        Tensor view = clips.slice(1, 2, 6); // frames 2..5, not contiguous
        Tensor a = Tensor.zeros(DType.F32, 2, 3, 2, 2, 2);
        Tensor b = Tensor.zeros(DType.F32, 2, 3, 2, 2, 2);
        ContextFrames.fill(view, new int[][] {{1, 2, -1}, {3, -1, 0}}, a);
        ContextFrames.fill(clips, new int[][] {{3, 4, -1}, {5, -1, 2}}, b);
        assertEquals(java.util.Arrays.toString(b.toFloatArray()), java.util.Arrays.toString(a.toFloatArray()));
    }

    @Test
    void keyframesAtBothEndsLeaveTheFramesBetweenToTheModel() {
        Tensor clips = numbered(1, 9, 1, 2);
        Tensor context = Tensor.zeros(DType.F32, 1, 5, 2, 2, 2);
        ContextFrames.fill(clips, new int[][] {ContextFrames.ends(5, 2, 8)}, context);
        for (int f = 0; f < 5; f++) {
            float mask = context.getFloat(0, f, 1, 1, 1);
            assertEquals(f == 0 || f == 4 ? 1f : 0f, mask, "frame " + f);
        }
        assertEquals(203f, context.getFloat(0, 0, 0, 1, 1));
        assertEquals(803f, context.getFloat(0, 4, 0, 1, 1));
    }

    @Test
    void framesOutsideTheClipsAndMisfitShapesAreRefused() {
        Tensor clips = numbered(1, 3, 1, 2);
        Tensor context = Tensor.zeros(DType.F32, 1, 4, 2, 2, 2);
        var outside = assertThrows(
                IllegalArgumentException.class,
                () -> ContextFrames.fill(clips, new int[][] {ContextFrames.leading(4, 2, 2)}, context));
        assertTrue(outside.getMessage().contains("takes frame 3 of a clip of 3"), outside.getMessage());
        assertThrows(
                IllegalArgumentException.class,
                () -> ContextFrames.fill(clips, new int[][] {{0, 1}}, context)); // a map of 2 for 4 frames
        assertThrows(
                IllegalArgumentException.class,
                () -> ContextFrames.fill(null, new int[][] {ContextFrames.leading(4, 0, 1)}, context));
        ContextFrames.fill(null, new int[][] {ContextFrames.leading(4, 0, 0)}, context); // nothing given: zeros
        assertEquals(0f, context.getFloat(0, 0, 1, 0, 0));
        var channels = assertThrows(
                ShapeMismatchException.class,
                () -> ContextFrames.fill(
                        numbered(1, 3, 2, 2),
                        new int[][] {ContextFrames.leading(4, 0, 1)},
                        Tensor.zeros(DType.F32, 1, 4, 2, 2, 2)));
        assertTrue(channels.getMessage().contains("less the mask"), channels.getMessage());
    }

    private static float[] filled(int n, float v) {
        float[] a = new float[n];
        java.util.Arrays.fill(a, v);
        return a;
    }
}
