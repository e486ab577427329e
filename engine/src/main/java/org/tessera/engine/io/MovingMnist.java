package org.tessera.engine.io;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.tessera.engine.random.RandomStream;

/**
 * Moving MNIST (Srivastava et al. 2015), generated: {@code objects} digits of 28×28 bouncing in a
 * size × size frame over {@code frames} frames. Clip i of a seed is a pure function of (seed, i):
 * for digit k, Philox draws 5k … 5k + 4 of stream i pick the digit, its start (x, y) anywhere it
 * fits, its direction θ and its speed (2 to 4 pixels a frame); a digit that would leave the
 * frame is reflected off the wall. Overlapping digits combine by the brighter pixel. Pixels map
 * 0–255 to [−1, 1].
 */
public final class MovingMnist {
    /** The side of an MNIST digit. */
    public static final int DIGIT = 28;

    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;

    private MovingMnist() {}

    /**
     * Renders clip {@code index} into {@code out} at byte {@code outByte}: frames × size × size
     * floats, frame-major ([F, 1, size, size] for one channel).
     *
     * @param digits {@code digitCount} MNIST images of 28×28 bytes, one after another
     * @return the digit index (into {@code digits}) of the first object, whose label is the clip's class
     */
    public static int render(
            byte[] digits,
            int digitCount,
            long seed,
            long index,
            int frames,
            int size,
            int objects,
            MemorySegment out,
            long outByte) {
        if (size < DIGIT || frames < 1 || objects < 1 || digitCount < 1) {
            throw new IllegalArgumentException("moving_mnist: needs frames ≥ 1, a frame of at least 28 pixels and"
                    + " digits ≥ 1, got " + frames + " frames of " + size + " with " + objects + " digits");
        }
        RandomStream r = new RandomStream(seed, index);
        int room = size - DIGIT;
        int[] id = new int[objects];
        double[] x = new double[objects];
        double[] y = new double[objects];
        double[] vx = new double[objects];
        double[] vy = new double[objects];
        for (int k = 0; k < objects; k++) {
            id[k] = Math.min(digitCount - 1, (int) (r.uniform(5L * k) * digitCount));
            x[k] = r.uniform(5L * k + 1) * room;
            y[k] = r.uniform(5L * k + 2) * room;
            double theta = 2 * Math.PI * r.uniform(5L * k + 3);
            double speed = 2 + 2 * r.uniform(5L * k + 4);
            vx[k] = speed * Math.cos(theta);
            vy[k] = speed * Math.sin(theta);
        }
        float[] frame = new float[size * size];
        for (int f = 0; f < frames; f++) {
            java.util.Arrays.fill(frame, 0f);
            for (int k = 0; k < objects; k++) {
                int left = (int) Math.round(x[k]);
                int top = (int) Math.round(y[k]);
                int at = id[k] * DIGIT * DIGIT;
                for (int dy = 0; dy < DIGIT; dy++) {
                    for (int dx = 0; dx < DIGIT; dx++) {
                        int p = (top + dy) * size + left + dx;
                        frame[p] = Math.max(frame[p], digits[at + dy * DIGIT + dx] & 0xff);
                    }
                }
                // the next position, reflected off the walls
                x[k] += vx[k];
                y[k] += vy[k];
                if (x[k] < 0 || x[k] > room) {
                    vx[k] = -vx[k];
                    x[k] = x[k] < 0 ? -x[k] : 2 * room - x[k];
                }
                if (y[k] < 0 || y[k] > room) {
                    vy[k] = -vy[k];
                    y[k] = y[k] < 0 ? -y[k] : 2 * room - y[k];
                }
                x[k] = Math.clamp(x[k], 0, room); // a frame barely wider than a digit reflects past the other wall
                y[k] = Math.clamp(y[k], 0, room);
            }
            long base = outByte + 4L * f * size * size;
            for (int p = 0; p < frame.length; p++) {
                out.set(F, base + 4L * p, frame[p] / 127.5f - 1f);
            }
        }
        return id[0];
    }

    /**
     * How far the bright pixels move from frame to frame: the mean, over consecutive frames, of
     * the distance between the centroids of the pixels above 0 (mid-grey) — a few pixels for a
     * real clip, about 0 for a still one, and erratic for noise. NaN when a frame has no bright
     * pixel. {@code clip} holds frames × size × size floats in [−1, 1] from {@code byteOffset}.
     */
    public static double meanCentroidStep(MemorySegment clip, long byteOffset, int frames, int size) {
        double total = 0;
        double px = Double.NaN;
        double py = Double.NaN;
        for (int f = 0; f < frames; f++) {
            double sx = 0;
            double sy = 0;
            long n = 0;
            long base = byteOffset + 4L * f * size * size;
            for (int yy = 0; yy < size; yy++) {
                for (int xx = 0; xx < size; xx++) {
                    if (clip.get(F, base + 4L * (yy * size + xx)) > 0f) {
                        sx += xx;
                        sy += yy;
                        n++;
                    }
                }
            }
            if (n == 0) {
                return Double.NaN;
            }
            double cx = sx / n;
            double cy = sy / n;
            if (f > 0) {
                total += Math.hypot(cx - px, cy - py);
            }
            px = cx;
            py = cy;
        }
        return frames > 1 ? total / (frames - 1) : 0;
    }
}
