package org.tessera.engine.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

/** Moving MNIST generated from stand-in digits (solid squares of distinct brightness). */
class MovingMnistTest {
    private static final int FRAMES = 16;
    private static final int SIZE = 64;

    /** Three "digits": a centred 10×10 square, brightness 255, 200 and 150. */
    private static byte[] digits() {
        byte[] d = new byte[3 * 28 * 28];
        for (int k = 0; k < 3; k++) {
            for (int y = 9; y < 19; y++) {
                for (int x = 9; x < 19; x++) {
                    d[k * 784 + y * 28 + x] = (byte) (255 - 50 * k);
                }
            }
        }
        return d;
    }

    private static float[] clip(long seed, long index, int objects, int size) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(4L * FRAMES * size * size);
            MovingMnist.render(digits(), 3, seed, index, FRAMES, size, objects, out, 0);
            return out.toArray(ValueLayout.JAVA_FLOAT);
        }
    }

    @Test
    void aClipMadeLargeAndShrunkIsTheBlockMeanOfTheLargeClip() {
        float[] full = clip(4, 9, 2, SIZE);
        for (int k : new int[] {2, 4}) {
            int side = SIZE / k;
            float[] small;
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment out = arena.allocate(4L * FRAMES * side * side);
                int first = MovingMnist.render(digits(), 3, 4, 9, FRAMES, SIZE, side, 2, out, 0);
                assertEquals(
                        MovingMnist.render(
                                digits(), 3, 4, 9, FRAMES, SIZE, 2, MemorySegment.ofArray(new float[full.length]), 0),
                        first);
                small = out.toArray(ValueLayout.JAVA_FLOAT);
            }
            for (int f = 0; f < FRAMES; f++) {
                for (int y = 0; y < side; y++) {
                    for (int x = 0; x < side; x++) {
                        double mean = 0;
                        for (int dy = 0; dy < k; dy++) {
                            for (int dx = 0; dx < k; dx++) {
                                mean += full[f * SIZE * SIZE + (y * k + dy) * SIZE + x * k + dx];
                            }
                        }
                        assertEquals(mean / (k * k), small[f * side * side + y * side + x], 1e-6, "k " + k);
                    }
                }
            }
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(4L * 64 * 64);
            org.junit.jupiter.api.Assertions.assertThrows(
                    IllegalArgumentException.class,
                    () -> MovingMnist.render(digits(), 3, 4, 9, 1, SIZE, 24, 2, out, 0),
                    "64 does not shrink to 24");
        }
    }

    @Test
    void aClipIsAPureFunctionOfSeedAndIndex() {
        assertArrayEquals(clip(1, 5, 2, SIZE), clip(1, 5, 2, SIZE));
        assertFalse(java.util.Arrays.equals(clip(1, 5, 2, SIZE), clip(1, 6, 2, SIZE)));
        assertFalse(java.util.Arrays.equals(clip(1, 5, 2, SIZE), clip(2, 5, 2, SIZE)));
    }

    @Test
    void oneDigitMovesTwoToFourPixelsAFrameAndStaysInTheFrame() {
        for (long i = 0; i < 20; i++) {
            float[] v = clip(3, i, 1, SIZE);
            for (int f = 0; f < FRAMES; f++) {
                int bright = 0;
                for (int p = 0; p < SIZE * SIZE; p++) {
                    bright += v[f * SIZE * SIZE + p] > 0 ? 1 : 0;
                }
                assertEquals(100, bright, "clip " + i + " frame " + f + ": the whole square is inside");
            }
            MovingMnist.Motion m = MovingMnist.motion(MemorySegment.ofArray(v), 0, FRAMES, SIZE);
            // a bounce shortens one step; otherwise the centroid moves by the speed, rounded to pixels
            assertTrue(m.step() > 1.2 && m.step() < 4.6, "clip " + i + ": mean step " + m.step());
            // a 10×10 square moved 2–4 pixels overlaps itself by about 0.3–0.7 of the union
            assertTrue(m.overlap() > 0.25 && m.overlap() < 0.9, "clip " + i + ": mean overlap " + m.overlap());
            assertEquals(1, m.coherence(), 1e-12, "every pixel of a square but none has two bright neighbours");
        }
    }

    @Test
    void aStillClipDoesNotMove() {
        float[] v = clip(3, 0, 1, SIZE);
        for (int f = 1; f < FRAMES; f++) {
            System.arraycopy(v, 0, v, f * SIZE * SIZE, SIZE * SIZE);
        }
        MovingMnist.Motion m = MovingMnist.motion(MemorySegment.ofArray(v), 0, FRAMES, SIZE);
        assertEquals(0, m.step(), 1e-12);
        assertEquals(1, m.overlap(), 1e-12);
    }

    /** Noise flickers: its bright half moves little on average but overlaps itself by only about ⅓. */
    @Test
    void noiseDoesNotMoveLikeADigit() {
        java.util.SplittableRandom random = new java.util.SplittableRandom(9);
        float[] v = new float[FRAMES * SIZE * SIZE];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) random.nextGaussian();
        }
        MovingMnist.Motion m = MovingMnist.motion(MemorySegment.ofArray(v), 0, FRAMES, SIZE);
        assertEquals(1 / 3.0, m.overlap(), 0.05);
        assertTrue(m.step() < 1, "noise's centroid stays near the middle: " + m.step());
        assertEquals(11 / 16.0, m.coherence(), 0.03, "P(at least 2 of 4 neighbours bright) at density ½");
    }

    /**
     * The change a shift of the frame before does not explain: none for a square that moves (a
     * rigid thing) or stands still, a lot for noise, and the area that differs for a square that
     * becomes another of its size at the same place (another picture, not a move).
     */
    @Test
    void changeIsWhatMovingDoesNotExplain() {
        for (long i = 0; i < 5; i++) {
            MovingMnist.Motion m = MovingMnist.motion(MemorySegment.ofArray(clip(3, i, 1, SIZE)), 0, FRAMES, SIZE);
            assertEquals(0, m.change(), 1e-9, "clip " + i + ": one square moving");
        }
        float[] still = clip(3, 0, 1, SIZE);
        for (int f = 1; f < FRAMES; f++) {
            System.arraycopy(still, 0, still, f * SIZE * SIZE, SIZE * SIZE);
        }
        assertEquals(
                0,
                MovingMnist.motion(MemorySegment.ofArray(still), 0, FRAMES, SIZE)
                        .change(),
                1e-12);
        java.util.SplittableRandom random = new java.util.SplittableRandom(3);
        float[] noise = new float[FRAMES * SIZE * SIZE];
        for (int i = 0; i < noise.length; i++) {
            noise[i] = (float) Math.clamp(random.nextGaussian(), -1, 1);
        }
        double noisy = MovingMnist.motion(MemorySegment.ofArray(noise), 0, FRAMES, SIZE)
                .change();
        assertTrue(noisy > 0.2, "noise: " + noisy);
        // frames alternate between a 10×10 square of 1 and a 20×5 bar of 1 at the same centre:
        // 50 pixels of each are the other's background, in the best alignment too (checked by hand)
        float[] swap = new float[FRAMES * SIZE * SIZE];
        java.util.Arrays.fill(swap, -1f);
        for (int f = 0; f < FRAMES; f++) {
            for (int y = 0; y < SIZE; y++) {
                for (int x = 0; x < SIZE; x++) {
                    boolean on = f % 2 == 0
                            ? y >= 27 && y < 37 && x >= 27 && x < 37
                            : y >= 30 && y < 35 && x >= 22 && x < 42;
                    swap[(f * SIZE + y) * SIZE + x] = on ? 1f : -1f;
                }
            }
        }
        double swapped =
                MovingMnist.motion(MemorySegment.ofArray(swap), 0, FRAMES, SIZE).change();
        assertEquals(100.0 / (SIZE * SIZE), swapped, 1e-9, "a square that becomes a bar");
    }

    @Test
    void aFrameAsWideAsADigitKeepsItInPlace() {
        float[] v = clip(4, 2, 2, 28);
        assertEquals(
                0, MovingMnist.motion(MemorySegment.ofArray(v), 0, FRAMES, 28).step(), 1e-12);
    }

    @Test
    void aClipAsBrightAsNoiseIsNotWithinDigitsRanges() {
        MovingMnist.Motion lo = new MovingMnist.Motion(1.0, 0.3, 0.5, 0.0, 0.05);
        MovingMnist.Motion hi = new MovingMnist.Motion(3.0, 0.7, 1.0, 0.1, 0.15);
        assertTrue(new MovingMnist.Motion(2.0, 0.5, 0.8, 0.05, 0.10).within(lo, hi));
        // steps, overlaps and holds together as digits do, but half of every frame is bright
        assertFalse(new MovingMnist.Motion(2.0, 0.5, 0.8, 0.05, 0.50).within(lo, hi));
        assertFalse(new MovingMnist.Motion(2.0, 0.5, 0.8, 0.05, 0.01).within(lo, hi));
        // change is compared by its median, not held to a range
        assertTrue(new MovingMnist.Motion(2.0, 0.5, 0.8, 0.50, 0.10).within(lo, hi));
    }

    @Test
    void inkIsTheShareOfBrightPixels() {
        float[] v = new float[2 * 4 * 4];
        java.util.Arrays.fill(v, -1f);
        v[0] = v[1] = v[4] = v[5] = 1f; // frame 0: a 2×2 square
        v[16 + 1] = v[16 + 2] = v[16 + 5] = v[16 + 6] = 1f; // frame 1: the same, a pixel right
        MovingMnist.Motion m = MovingMnist.motion(MemorySegment.ofArray(v), 0, 2, 4);
        assertEquals(0.25, m.ink(), 1e-12);
        assertEquals(1.0, m.step(), 1e-12);
    }
}
