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
 * <p>The model's output must scale the input's H and W by whole factors (a decoder's 8, an
 * encoder's 1/8 is read as the output tile over the input tile, which must divide exactly).
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
        int n = x.size(0);
        int c = x.size(1);
        int h = x.size(2);
        int w = x.size(3);
        int th = Math.min(tile, h);
        int tw = Math.min(tile, w);
        List<Integer> ys = starts(h, th, overlap);
        List<Integer> xs = starts(w, tw, overlap);
        Arena arena = Arena.ofAuto();
        float[] acc = null; // Σ w·tile, [N, C', H·fy, W·fx]
        float[] weightSum = null; // Σ w, [H·fy, W·fx]
        int oc = 0;
        int fy = 0;
        int fx = 0;
        for (int iy = 0; iy < ys.size(); iy++) {
            for (int ix = 0; ix < xs.size(); ix++) {
                int y0 = ys.get(iy);
                int x0 = xs.get(ix);
                Tensor in = x.slice(2, y0, y0 + th).slice(3, x0, x0 + tw).contiguous(arena);
                Tensor out = model.apply(in);
                if (acc == null) {
                    oc = out.size(1);
                    if (out.shape().length != 4 || out.size(0) != n || out.size(2) % th != 0 || out.size(3) % tw != 0) {
                        throw new IllegalArgumentException("stage '" + stage + "': a tile of " + th + "×" + tw
                                + " gave " + java.util.Arrays.toString(out.shape())
                                + ", not a whole multiple of the tile; tiling needs a model that scales H and W");
                    }
                    fy = out.size(2) / th;
                    fx = out.size(3) / tw;
                    long size = (long) n * oc * h * fy * w * fx;
                    if (size > Integer.MAX_VALUE - 8) {
                        throw new IllegalArgumentException("stage '" + stage + "': a tiled result of " + size
                                + " values is more than one array holds");
                    }
                    acc = new float[(int) size];
                    weightSum = new float[h * fy * w * fx];
                }
                float[] ry = ramp(
                        th * fy,
                        iy == 0 ? 0 : (ys.get(iy - 1) + th - y0) * fy,
                        iy == ys.size() - 1 ? 0 : (y0 + th - ys.get(iy + 1)) * fy);
                float[] rx = ramp(
                        tw * fx,
                        ix == 0 ? 0 : (xs.get(ix - 1) + tw - x0) * fx,
                        ix == xs.size() - 1 ? 0 : (x0 + tw - xs.get(ix + 1)) * fx);
                accumulate(out, acc, weightSum, y0 * fy, x0 * fx, ry, rx, h * fy, w * fx);
            }
        }
        for (int i = 0; i < acc.length; i++) {
            acc[i] /= weightSum[i % weightSum.length];
        }
        return Tensor.of(arena, acc, n, oc, h * fy, w * fx);
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
