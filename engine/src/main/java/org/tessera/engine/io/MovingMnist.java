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
        // The background, then each digit's whole trajectory on top: the brighter pixel wins, and
        // as x ↦ x/127.5 − 1 is monotonic, that is the brighter digit pixel. Nothing is allocated.
        long clipBytes = 4L * frames * size * size;
        for (long b = outByte; b < outByte + clipBytes; b += 4) {
            out.set(F, b, -1f);
        }
        RandomStream r = new RandomStream(seed, index);
        int room = size - DIGIT;
        int first = 0;
        for (int k = 0; k < objects; k++) {
            int id = Math.min(digitCount - 1, (int) (r.uniform(5L * k) * digitCount));
            double x = r.uniform(5L * k + 1) * room;
            double y = r.uniform(5L * k + 2) * room;
            double theta = 2 * Math.PI * r.uniform(5L * k + 3);
            double speed = 2 + 2 * r.uniform(5L * k + 4);
            double vx = speed * Math.cos(theta);
            double vy = speed * Math.sin(theta);
            if (k == 0) {
                first = id;
            }
            for (int f = 0; f < frames; f++) {
                long frame = outByte + 4L * f * size * size;
                int left = (int) Math.round(x);
                int top = (int) Math.round(y);
                int at = id * DIGIT * DIGIT;
                for (int dy = 0; dy < DIGIT; dy++) {
                    for (int dx = 0; dx < DIGIT; dx++) {
                        long p = frame + 4L * ((top + dy) * size + left + dx);
                        float v = (digits[at + dy * DIGIT + dx] & 0xff) / 127.5f - 1f;
                        out.set(F, p, Math.max(out.get(F, p), v));
                    }
                }
                // the next position, reflected off the walls
                x += vx;
                y += vy;
                if (x < 0 || x > room) {
                    vx = -vx;
                    x = x < 0 ? -x : 2 * room - x;
                }
                if (y < 0 || y > room) {
                    vy = -vy;
                    y = y < 0 ? -y : 2 * room - y;
                }
                x = Math.clamp(x, 0, room); // a frame barely wider than a digit reflects past the other wall
                y = Math.clamp(y, 0, room);
            }
        }
        return first;
    }

    /**
     * Renders clip {@code index} as {@link #render(byte[], int, long, long, int, int, int,
     * MemorySegment, long)} does at frame × frame, then shrinks each frame to size × size by
     * averaging each (frame/size)² block: Moving MNIST as it is made (64 × 64, digits of 28)
     * brought down to a model's smaller frame, the way a picture is scaled down (area averaging),
     * rather than a different data set with the digits filling more of the frame.
     *
     * @param frame the side the clip is made at; a multiple of {@code size}, at least 28
     * @return the digit index of the first object
     */
    public static int render(
            byte[] digits,
            int digitCount,
            long seed,
            long index,
            int frames,
            int frame,
            int size,
            int objects,
            MemorySegment out,
            long outByte) {
        if (size < 1 || frame % size != 0) {
            throw new IllegalArgumentException("moving_mnist: a clip made at " + frame + "×" + frame
                    + " shrinks to a side that divides it, not " + size);
        }
        if (frame == size) {
            return render(digits, digitCount, seed, index, frames, size, objects, out, outByte);
        }
        MemorySegment full = MemorySegment.ofArray(new float[frames * frame * frame]);
        int first = render(digits, digitCount, seed, index, frames, frame, objects, full, 0);
        for (int f = 0; f < frames; f++) {
            shrink(full, 4L * f * frame * frame, frame, size, out, outByte + 4L * f * size * size);
        }
        return first;
    }

    /** out[y, x] = the mean of in's (frame/size)² block at (y, x): area averaging of one frame. */
    private static void shrink(MemorySegment in, long inByte, int frame, int size, MemorySegment out, long outByte) {
        int k = frame / size;
        float inv = 1f / (k * k);
        for (int y = 0; y < size; y++) {
            for (int x = 0; x < size; x++) {
                float sum = 0;
                for (int dy = 0; dy < k; dy++) {
                    long row = inByte + 4L * ((y * k + dy) * frame + x * k);
                    for (int dx = 0; dx < k; dx++) {
                        sum += in.get(F, row + 4L * dx);
                    }
                }
                out.set(F, outByte + 4L * (y * size + x), sum * inv);
            }
        }
    }

    /**
     * How a clip's bright pixels (above 0, mid-grey) move from frame to frame:
     *
     * @param step the mean distance between consecutive frames' centroids of bright pixels, in
     *     pixels: 2–4 for a Moving MNIST clip, 0 for a still one (NaN when a frame has none)
     * @param overlap the mean intersection over union of consecutive frames' bright-pixel masks:
     *     high for digits that move a little, 1 for a still clip, about ⅓ for noise (two random
     *     half-filled masks)
     * @param coherence the mean share of bright pixels with at least two bright neighbours (of
     *     four): most of a digit's strokes, few of scattered specks (sparse noise that happens to
     *     step and overlap like digits does not hold together)
     * @param change what moving does not explain: the mean, over consecutive frames, of the
     *     smallest mean |difference| (values in [0, 1]) between a frame and the frame before
     *     shifted by up to {@value #SHIFT} pixels each way (a digit's largest step). 0 for one
     *     rigid thing moving or none; larger where the content itself changes, as between
     *     independent pictures of one class, or where two digits move apart
     * @param ink the mean share of a frame's pixels that are bright: a few percent for digits on
     *     black, about ½ for noise. Without it, noise whose bright pixels clump (a model early in
     *     training draws 4×4-patch-sized blotches) stepped, overlapped and held together as digits do
     */
    public record Motion(double step, double overlap, double coherence, double change, double ink) {
        /**
         * Step, overlap, coherence and ink lie within [lo, hi] of a reference's range. Change is
         * not held to a range: one rigid digit's is exactly 0, a range no generated clip can meet;
         * it is compared by its median instead.
         */
        public boolean within(Motion lo, Motion hi) {
            return step >= lo.step
                    && step <= hi.step
                    && overlap >= lo.overlap
                    && overlap <= hi.overlap
                    && coherence >= lo.coherence
                    && coherence <= hi.coherence
                    && ink >= lo.ink
                    && ink <= hi.ink;
        }
    }

    /** The largest shift {@link Motion#change} tries, in pixels: a digit's largest step. */
    public static final int SHIFT = 4;

    /**
     * min over shifts (dy, dx) in [−SHIFT, SHIFT]² of the mean over pixels of |cur − prev moved by
     * (dy, dx)|, both mapped from [−1, 1] to [0, 1], where prev moved in from outside is the
     * background (0).
     */
    static double change(float[] prev, float[] cur, int size) {
        double best = Double.MAX_VALUE;
        for (int dy = -SHIFT; dy <= SHIFT; dy++) {
            for (int dx = -SHIFT; dx <= SHIFT; dx++) {
                double sum = 0;
                for (int y = 0; y < size; y++) {
                    int sy = y - dy;
                    for (int x = 0; x < size; x++) {
                        int sx = x - dx;
                        float p = sy >= 0 && sy < size && sx >= 0 && sx < size ? prev[sy * size + sx] : -1f;
                        sum += Math.abs(cur[y * size + x] - p);
                    }
                }
                best = Math.min(best, sum / 2 / ((double) size * size));
            }
        }
        return best;
    }

    /** The {@link Motion} of a clip of frames × size × size floats in [−1, 1] at {@code byteOffset}. */
    public static Motion motion(MemorySegment clip, long byteOffset, int frames, int size) {
        double steps = 0;
        double overlaps = 0;
        double coherent = 0;
        double px = Double.NaN;
        double py = Double.NaN;
        int pixels = size * size;
        boolean[] previous = new boolean[pixels];
        boolean[] current = new boolean[pixels];
        float[] before = new float[pixels];
        float[] now = new float[pixels];
        double changes = 0;
        double inked = 0;
        for (int f = 0; f < frames; f++) {
            double sx = 0;
            double sy = 0;
            long n = 0;
            long base = byteOffset + 4L * f * pixels;
            long both = 0;
            long either = 0;
            for (int i = 0; i < pixels; i++) {
                now[i] = clip.get(F, base + 4L * i);
                boolean bright = now[i] > 0f;
                current[i] = bright;
                if (bright) {
                    sx += i % size;
                    sy += i / size;
                    n++;
                }
                if (f > 0) {
                    both += bright && previous[i] ? 1 : 0;
                    either += bright || previous[i] ? 1 : 0;
                }
            }
            if (n == 0) {
                return new Motion(Double.NaN, Double.NaN, Double.NaN, Double.NaN, Double.NaN);
            }
            long held = 0;
            for (int i = 0; i < pixels; i++) {
                if (current[i]) {
                    int x = i % size;
                    int y = i / size;
                    int neighbours = (x > 0 && current[i - 1] ? 1 : 0)
                            + (x + 1 < size && current[i + 1] ? 1 : 0)
                            + (y > 0 && current[i - size] ? 1 : 0)
                            + (y + 1 < size && current[i + size] ? 1 : 0);
                    held += neighbours >= 2 ? 1 : 0;
                }
            }
            coherent += (double) held / n;
            inked += (double) n / pixels;
            double cx = sx / n;
            double cy = sy / n;
            if (f > 0) {
                steps += Math.hypot(cx - px, cy - py);
                overlaps += either == 0 ? 1 : (double) both / either;
                changes += change(before, now, size);
            }
            px = cx;
            py = cy;
            boolean[] t = previous;
            previous = current;
            current = t;
            float[] v = before;
            before = now;
            now = v;
        }
        return frames > 1
                ? new Motion(
                        steps / (frames - 1),
                        overlaps / (frames - 1),
                        coherent / frames,
                        changes / (frames - 1),
                        inked / frames)
                : new Motion(0, 1, coherent, 0, inked);
    }
}
