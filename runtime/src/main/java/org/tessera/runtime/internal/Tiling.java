package org.tessera.runtime.internal;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;
import org.tessera.engine.tensor.Tensor;

/**
 * A model applied to overlapping tiles of an image and the results blended: how a VAE decodes a
 * large image or a long video's frames with the memory of one tile. The input [N, C, H, W] is cut
 * into tiles of {@code tile} pixels square (fewer where the image is smaller), consecutive tiles
 * overlapping by at least {@code overlap} (the last of a row or column sits flush with the edge,
 * so that every tile has one shape and one plan serves them all). Each output tile is weighted by
 * linear ramps across its overlaps, w = (i + ½)/overlap rising and the mirror falling, which sum
 * to 1 wherever two tiles meet; the result is Σ w·tile / Σ w.
 *
 * <p>The model's output may scale H and W (a decoder's ×8, an encoder's ÷8): every tile's place
 * must then land on whole output pixels (an encoder's tiles start at multiples of 8).
 */
final class Tiling {
    private Tiling() {}

    /**
     * @param model one forward pass on a tile (its result is read before the next call)
     * @param stage the stage's name, for messages
     */
    static Tensor apply(UnaryOperator<Tensor> model, Tensor x, int tile, int overlap, String stage) {
        if (x.shape().length != 4) {
            throw new IllegalArgumentException("stage '" + stage + "': tiling needs images [N, C, H, W], got "
                    + java.util.Arrays.toString(x.shape()));
        }
        if (tile < 1 || overlap < 0 || overlap >= tile) {
            throw new IllegalArgumentException("stage '" + stage + "': tiles of " + tile + " overlapping by " + overlap
                    + "; a tile needs at least 1 pixel and an overlap in 0.." + (tile - 1));
        }
        int n = x.size(0);
        int h = x.size(2);
        int w = x.size(3);
        int th = Math.min(tile, h);
        int tw = Math.min(tile, w);
        List<Integer> ys = starts(h, th, overlap);
        List<Integer> xs = starts(w, tw, overlap);
        Arena arena = Arena.ofAuto();
        float[] acc = null; // Σ w·tile, [N, C', H', W']
        float[] weightSum = null; // Σ w, [H', W']
        int oc = 0;
        Scale sy = null;
        Scale sx = null;
        for (int iy = 0; iy < ys.size(); iy++) {
            for (int ix = 0; ix < xs.size(); ix++) {
                int y0 = ys.get(iy);
                int x0 = xs.get(ix);
                Tensor in = x.slice(2, y0, y0 + th).slice(3, x0, x0 + tw).contiguous(arena);
                Tensor out = model.apply(in);
                if (acc == null) {
                    if (out.shape().length != 4 || out.size(0) != n) {
                        throw new IllegalArgumentException("stage '" + stage + "': a tile of " + th + "×" + tw
                                + " gave " + java.util.Arrays.toString(out.shape()) + "; tiling needs images out");
                    }
                    oc = out.size(1);
                    sy = new Scale(out.size(2), th, h, ys, stage);
                    sx = new Scale(out.size(3), tw, w, xs, stage);
                    long size = (long) n * oc * sy.of(h) * sx.of(w);
                    if (size > Integer.MAX_VALUE - 8) {
                        throw new IllegalArgumentException("stage '" + stage + "': a tiled result of " + size
                                + " values is more than one array holds");
                    }
                    acc = new float[(int) size];
                    weightSum = new float[sy.of(h) * sx.of(w)];
                }
                float[] ry = ramp(
                        sy.of(th),
                        iy == 0 ? 0 : sy.of(ys.get(iy - 1) + th - y0),
                        iy == ys.size() - 1 ? 0 : sy.of(y0 + th - ys.get(iy + 1)));
                float[] rx = ramp(
                        sx.of(tw),
                        ix == 0 ? 0 : sx.of(xs.get(ix - 1) + tw - x0),
                        ix == xs.size() - 1 ? 0 : sx.of(x0 + tw - xs.get(ix + 1)));
                accumulate(out, acc, weightSum, sy.of(y0), sx.of(x0), ry, rx, sy.of(h), sx.of(w));
            }
        }
        for (int i = 0; i < acc.length; i++) {
            acc[i] /= weightSum[i % weightSum.length];
        }
        return Tensor.of(arena, acc, n, oc, sy.of(h), sx.of(w));
    }

    /**
     * How an axis scales from input to output: {@code out} pixels for a tile of {@code in} (×8 for a
     * decoder, ÷8 for an encoder). Every tile start and the axis' length must land on whole output
     * pixels, which the constructor checks.
     */
    private record Scale(int out, int in) {
        Scale(int out, int in, int size, List<Integer> starts, String stage) {
            this(out, in);
            for (int v : starts) {
                check(v, stage);
            }
            check(size, stage);
        }

        private void check(int v, String stage) {
            if ((long) v * out % in != 0) {
                int step = in
                        / java.math.BigInteger.valueOf(in)
                                .gcd(java.math.BigInteger.valueOf(out))
                                .intValue();
                throw new IllegalArgumentException("stage '" + stage + "': a tile of " + in + " pixels gives " + out
                        + ", so every tile's place and the image's size must be a multiple of " + step + " (here "
                        + v + "); choose a tile and overlap that are");
            }
        }

        int of(int v) {
            return (int) ((long) v * out / in);
        }
    }

    /** Tile starts along an axis of {@code size}: every {@code tile − overlap}, the last flush with the end. */
    static List<Integer> starts(int size, int tile, int overlap) {
        List<Integer> out = new ArrayList<>();
        int stride = Math.max(1, tile - overlap);
        for (int s = 0; ; s += stride) {
            if (s + tile >= size) {
                out.add(Math.max(0, size - tile));
                return out;
            }
            out.add(s);
        }
    }

    /** Weights over {@code length} output pixels: rising over the first {@code in}, falling over the last {@code out}. */
    static float[] ramp(int length, int in, int out) {
        float[] r = new float[length];
        for (int i = 0; i < length; i++) {
            float v = 1f;
            if (in > 0 && i < in) {
                v = Math.min(v, (i + 0.5f) / in);
            }
            if (out > 0 && i >= length - out) {
                v = Math.min(v, (length - i - 0.5f) / out);
            }
            r[i] = v;
        }
        return r;
    }

    private static void accumulate(
            Tensor tileOut,
            float[] acc,
            float[] weightSum,
            int oy,
            int ox,
            float[] ry,
            float[] rx,
            int height,
            int width) {
        int n = tileOut.size(0);
        int c = tileOut.size(1);
        int hh = tileOut.size(2);
        int ww = tileOut.size(3);
        float[] src = tileOut.toFloatArray();
        for (int y = 0; y < hh; y++) {
            for (int x = 0; x < ww; x++) {
                weightSum[(oy + y) * width + ox + x] += ry[y] * rx[x];
            }
        }
        for (int plane = 0; plane < n * c; plane++) {
            int base = plane * height * width;
            int s = plane * hh * ww;
            for (int y = 0; y < hh; y++) {
                int row = base + (oy + y) * width + ox;
                for (int x = 0; x < ww; x++) {
                    acc[row + x] += ry[y] * rx[x] * src[s + y * ww + x];
                }
            }
        }
    }
}
