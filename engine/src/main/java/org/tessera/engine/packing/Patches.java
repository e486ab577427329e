package org.tessera.engine.packing;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.List;
import org.tessera.engine.graph.PositionTables;
import org.tessera.engine.tensor.Tensor;

/**
 * Examples of any size cut into patches and packed into rows by a {@link PackPlan}, and the rows'
 * outputs cut back into examples. An example is [C, H, W] (an image, one frame) or [C, F, H, W];
 * a patch is pt frames × p × p pixels, flattened (channel, frame, row, column) — the order of a
 * patch-embedding convolution's weight [D, C, (pt,) p, p], so that the embedding is a product with
 * that weight reshaped.
 */
public final class Patches {
    private Patches() {}

    /**
     * The packed rows.
     *
     * @param tokens [R, L, C·pt·p·p], zero where a row has no example
     * @param segments [R, L] i64: the example of each token, −1 for padding (attention stays within
     *     a segment)
     * @param gather [R, L] i64: the example of each token, 0 for padding (for per-example lookups)
     * @param positions [R, L, 3] f32: each token's (frame, row, column) in patches within its example
     */
    public record Packed(PackPlan plan, Tensor tokens, Tensor segments, Tensor gather, Tensor positions) {}

    /** How an output token's features are ordered: channel slowest (as a patch), or fastest (as DiT's final layer). */
    public enum Order {
        CHANNELS_FIRST,
        CHANNELS_LAST
    }

    /** The grid of patches of each example. */
    public static List<PackPlan.Grid> grids(List<Tensor> examples, int pt, int p) {
        if (examples.isEmpty()) {
            throw new IllegalArgumentException("nothing to pack: no examples");
        }
        if (pt < 1 || p < 1) {
            throw new IllegalArgumentException("patches of " + pt + "×" + p + "×" + p + ": every side must be ≥ 1");
        }
        List<PackPlan.Grid> out = new ArrayList<>();
        for (int i = 0; i < examples.size(); i++) {
            int[] s = shape4(examples.get(i), i);
            if (s[1] % pt != 0 || s[2] % p != 0 || s[3] % p != 0) {
                throw new IllegalArgumentException("example " + i + " "
                        + java.util.Arrays.toString(examples.get(i).shape()) + " is not a whole number of " + pt + "×"
                        + p + "×" + p + " patches");
            }
            out.add(new PackPlan.Grid(s[1] / pt, s[2] / p, s[3] / p));
        }
        return out;
    }

    /** [C, F, H, W] of an example ([C, H, W] is one frame). */
    private static int[] shape4(Tensor x, int i) {
        int[] s = x.shape();
        return switch (s.length) {
            case 3 -> new int[] {s[0], 1, s[1], s[2]};
            case 4 -> s;
            default ->
                throw new IllegalArgumentException("example " + i + " is " + java.util.Arrays.toString(s)
                        + "; examples are [C, H, W] images or [C, F, H, W] clips");
        };
    }

    /** Packs {@code examples} (all with the same C) into rows of {@code rowLength} tokens. */
    public static Packed pack(List<Tensor> examples, int pt, int p, int rowLength) {
        return pack(examples, pt, p, rowLength, TokenDropping.NONE);
    }

    /** {@link #pack(List, int, int, int)} of the patches {@code dropping} keeps. */
    public static Packed pack(List<Tensor> examples, int pt, int p, int rowLength, TokenDropping dropping) {
        return pack(examples, pt, p, plan(examples, pt, p, rowLength, dropping));
    }

    /**
     * Where {@link #pack(List, int, int, int, TokenDropping)} would put the patches of
     * {@code examples}, without packing them: for a caller that changes the plan (adds rows) or
     * packs a second batch by it.
     */
    public static PackPlan plan(List<Tensor> examples, int pt, int p, int rowLength, TokenDropping dropping) {
        List<PackPlan.Grid> grids = grids(examples, pt, p);
        int c = shape4(examples.getFirst(), 0)[0];
        List<int[]> kept = new ArrayList<>();
        for (int e = 0; e < examples.size(); e++) {
            int[] s = shape4(examples.get(e), e);
            sameChannels(s, c, e);
            // a clip that similarity dropping leaves whole is packed as with no dropping
            TokenDropping own =
                    dropping instanceof TokenDropping.Similar sim && !sim.thins(e) ? TokenDropping.NONE : dropping;
            // only similarity looks at the values ([C, F, H, W] row-major)
            float[] x = own instanceof TokenDropping.Similar ? examples.get(e).toFloatArray() : null;
            kept.add(kept(own, e, x, s, grids.get(e), pt, p));
        }
        return PackPlan.firstFitDecreasing(grids, kept, rowLength);
    }

    /**
     * {@code examples} packed by another batch's {@code plan}: examples of the same shapes, whose
     * patches go where that batch's went (the noise of a training step, packed as its data was,
     * dropped patches included).
     */
    public static Packed pack(List<Tensor> examples, int pt, int p, PackPlan plan) {
        List<PackPlan.Grid> grids = grids(examples, pt, p);
        if (grids.size() != plan.placements().size()) {
            throw new IllegalArgumentException(examples.size() + " examples for a plan of "
                    + plan.placements().size());
        }
        int c = shape4(examples.getFirst(), 0)[0];
        List<float[]> values = new ArrayList<>();
        for (int e = 0; e < examples.size(); e++) {
            PackPlan.Placement pl = plan.placements().get(e);
            PackPlan.Grid g = grids.get(e);
            if (g.frames() != pl.frames() || g.height() != pl.height() || g.width() != pl.width()) {
                throw new IllegalArgumentException("example " + e + " is not the shape its plan placed");
            }
            sameChannels(shape4(examples.get(e), e), c, e);
            values.add(examples.get(e).toFloatArray());
        }
        return fill(examples, values, pt, p, plan);
    }

    /** Every example in a row of its own, padded to the longest: {@link PackPlan#onePerRow}. */
    public static Packed padded(List<Tensor> examples, int pt, int p) {
        List<PackPlan.Grid> grids = grids(examples, pt, p);
        int c = shape4(examples.getFirst(), 0)[0];
        List<float[]> values = new ArrayList<>();
        for (int e = 0; e < examples.size(); e++) {
            sameChannels(shape4(examples.get(e), e), c, e);
            values.add(examples.get(e).toFloatArray());
        }
        return fill(examples, values, pt, p, PackPlan.onePerRow(grids));
    }

    private static void sameChannels(int[] shape, int c, int e) {
        if (shape[0] != c) {
            throw new IllegalArgumentException("example " + e + " has " + shape[0] + " channels, example 0 has " + c);
        }
    }

    /** {@code a·b·c} as an array length, or an error naming what it sizes. */
    private static int length(long a, long b, long c, String what) {
        long n = a * b;
        if (n > Integer.MAX_VALUE || n * c > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException(what + " of " + a + " × " + b + " × " + c + " values are more than one"
                    + " array holds; use fewer or shorter rows");
        }
        return (int) (n * c);
    }

    /** The rows of {@code plan}: tokens, segments, gather ids and positions. */
    private static Packed fill(List<Tensor> examples, List<float[]> values, int pt, int p, PackPlan plan) {
        int c = shape4(examples.getFirst(), 0)[0];
        int dim = c * pt * p * p;
        int rowLength = plan.rowLength();
        int rows = plan.rows();
        float[] tokens = new float[length(rows, rowLength, dim, "packed tokens")];
        long[] segments = new long[length(rows, rowLength, 1, "segment ids")];
        long[] gather = new long[segments.length];
        float[] positions = new float[length(rows, rowLength, 3, "positions")];
        java.util.Arrays.fill(segments, -1);
        for (int e = 0; e < examples.size(); e++) {
            int[] s = shape4(examples.get(e), e);
            PackPlan.Placement pl = plan.placements().get(e);
            int token = pl.row() * rowLength + pl.offset();
            for (int i = 0; i < pl.tokens(); i++, token++) {
                int at = pl.position(i);
                int t = at / (pl.height() * pl.width());
                int gy = at / pl.width() % pl.height();
                int gx = at % pl.width();
                segments[token] = e;
                gather[token] = e;
                positions[3 * token] = t;
                positions[3 * token + 1] = gy;
                positions[3 * token + 2] = gx;
                patch(values.get(e), s, t, gy, gx, pt, p, tokens, token * dim);
            }
        }
        Arena arena = Arena.ofAuto();
        return new Packed(
                plan,
                Tensor.of(arena, tokens, rows, rowLength, dim),
                Tensor.ofLongs(arena, segments, rows, rowLength),
                Tensor.ofLongs(arena, gather, rows, rowLength),
                Tensor.of(arena, positions, rows, rowLength, 3));
    }

    /** The patch at grid (t, gy, gx) of example x [C, F, H, W], flattened (c, kt, ky, kx) into dst at {@code at}. */
    private static void patch(float[] x, int[] s, int t, int gy, int gx, int pt, int p, float[] dst, int at) {
        for (int ch = 0; ch < s[0]; ch++) {
            for (int kt = 0; kt < pt; kt++) {
                for (int ky = 0; ky < p; ky++) {
                    int src = ((ch * s[1] + t * pt + kt) * s[2] + gy * p + ky) * s[3] + gx * p;
                    System.arraycopy(x, src, dst, at, p);
                    at += p;
                }
            }
        }
    }

    /** The grid positions {@code dropping} keeps of example e, ascending; null for all. */
    private static int[] kept(TokenDropping dropping, int e, float[] x, int[] s, PackPlan.Grid g, int pt, int p) {
        int n = (int) g.tokens();
        int plane = g.height() * g.width();
        boolean[] keep = new boolean[n];
        switch (dropping) {
            case TokenDropping.None none -> {
                return null;
            }
            case TokenDropping.Random r -> {
                boolean any = false;
                for (int i = 0; i < n; i++) {
                    keep[i] = !r.drops(e, i);
                    any |= keep[i];
                }
                keep[0] |= !any; // an example keeps at least one patch
            }
            case TokenDropping.Similar sim -> {
                // compared with the patch kept last at the same place, the one unpack restores from,
                // so that a slow drift is kept once it has drifted far enough, not dropped for ever
                int dim = s[0] * pt * p * p;
                float[] a = new float[dim];
                float[][] kept = new float[plane][dim];
                for (int i = 0; i < n; i++) {
                    int t = i / plane;
                    int gy = i / g.width() % g.height();
                    int gx = i % g.width();
                    patch(x, s, t, gy, gx, pt, p, a, 0);
                    keep[i] = t == 0 || cosine(a, kept[i % plane]) <= sim.threshold();
                    if (keep[i]) {
                        System.arraycopy(a, 0, kept[i % plane], 0, dim);
                    }
                }
            }
        }
        int count = 0;
        for (boolean k : keep) {
            count += k ? 1 : 0;
        }
        int[] out = new int[count];
        for (int i = 0, j = 0; i < n; i++) {
            if (keep[i]) {
                out[j++] = i;
            }
        }
        return out;
    }

    /** cos(a, b); two zero patches are the same (1), a zero one and another are not (0). */
    private static double cosine(float[] a, float[] b) {
        double ab = 0;
        double aa = 0;
        double bb = 0;
        for (int i = 0; i < a.length; i++) {
            ab += (double) a[i] * b[i];
            aa += (double) a[i] * a[i];
            bb += (double) b[i] * b[i];
        }
        if (aa == 0 || bb == 0) {
            return aa == bb ? 1 : 0;
        }
        return Math.clamp(ab / Math.sqrt(aa * bb), -1.0, 1.0); // rounding can step past 1
    }

    /**
     * Cuts rows of output tokens [R, L, C·pt·p·p] back into examples [C, F, H, W] (frames = the
     * grid's × pt) by {@code plan}; padding tokens are dropped. A patch dropped from the rows (see
     * {@link TokenDropping}) takes the output of the previous frame at its place — in frame order,
     * so a run of dropped patches takes the last one kept — or zeros in the first frame.
     */
    public static List<Tensor> unpack(Tensor rows, PackPlan plan, int channels, int pt, int p, Order order) {
        int dim = channels * pt * p * p;
        if (rows.rank() != 3
                || rows.size(0) != plan.rows()
                || rows.size(1) != plan.rowLength()
                || rows.size(2) != dim) {
            throw new IllegalArgumentException("unpack: rows " + java.util.Arrays.toString(rows.shape()) + " are not ["
                    + plan.rows() + ", " + plan.rowLength() + ", " + dim + "] (" + channels + " channels of " + pt + "×"
                    + p + "×" + p + " patches)");
        }
        float[] v = rows.toFloatArray();
        List<Tensor> out = new ArrayList<>();
        for (PackPlan.Placement pl : plan.placements()) {
            int f = pl.frames() * pt;
            int h = pl.height() * p;
            int w = pl.width() * p;
            float[] x = new float[channels * f * h * w];
            int plane = pl.height() * pl.width();
            boolean[] present = new boolean[pl.frames() * plane];
            int token = pl.row() * plan.rowLength() + pl.offset();
            for (int i = 0; i < pl.tokens(); i++, token++) {
                int at = pl.position(i);
                present[at] = true;
                int t = at / plane;
                int gy = at / pl.width() % pl.height();
                int gx = at % pl.width();
                int base = token * dim;
                for (int ch = 0; ch < channels; ch++) {
                    for (int kt = 0; kt < pt; kt++) {
                        for (int ky = 0; ky < p; ky++) {
                            for (int kx = 0; kx < p; kx++) {
                                int feature = order == Order.CHANNELS_FIRST
                                        ? ((ch * pt + kt) * p + ky) * p + kx
                                        : ((kt * p + ky) * p + kx) * channels + ch;
                                int dst = ((ch * f + t * pt + kt) * h + gy * p + ky) * w + gx * p + kx;
                                x[dst] = v[base + feature];
                            }
                        }
                    }
                }
            }
            for (int at = plane; at < present.length; at++) {
                if (!present[at]) {
                    int t = at / plane;
                    int gy = at / pl.width() % pl.height();
                    int gx = at % pl.width();
                    for (int ch = 0; ch < channels; ch++) {
                        for (int kt = 0; kt < pt; kt++) {
                            for (int ky = 0; ky < p; ky++) {
                                int dst = ((ch * f + t * pt + kt) * h + gy * p + ky) * w + gx * p;
                                System.arraycopy(x, dst - pt * h * w, x, dst, p);
                            }
                        }
                    }
                }
            }
            out.add(Tensor.of(Arena.ofAuto(), x, channels, f, h, w));
        }
        return out;
    }

    /**
     * Each token's position as DiT's fixed 2-D sin-cos table has it (MAE's: the first half of the
     * width encodes the patch's column, the second its row, each [sin(v·ω), cos(v·ω)]), computed
     * for whatever grid the token's example has: [R, L, dim], zero for padding. A packed DiT adds
     * it to the embedded tokens where DiT adds its pos_embed.
     */
    public static Tensor sinCos2d(Packed packed, int dim) {
        if (dim % 4 != 0) {
            throw new IllegalArgumentException("a 2-D sin-cos table needs a width divisible by 4, got " + dim);
        }
        PackPlan plan = packed.plan();
        int longest = 1;
        for (PackPlan.Placement pl : plan.placements()) {
            longest = Math.max(longest, Math.max(pl.height(), pl.width()));
        }
        float[] table = PositionTables.sinCos1d(longest, dim / 2).toFloatArray(); // row v: v's half
        int half = dim / 2;
        float[] out = new float[length(plan.rows(), plan.rowLength(), dim, "positions")];
        for (PackPlan.Placement pl : plan.placements()) {
            int token = pl.row() * plan.rowLength() + pl.offset();
            for (int i = 0; i < pl.tokens(); i++, token++) {
                int at = pl.position(i);
                int gy = at / pl.width() % pl.height();
                int gx = at % pl.width();
                System.arraycopy(table, gx * half, out, token * dim, half);
                System.arraycopy(table, gy * half, out, token * dim + half, half);
            }
        }
        return Tensor.of(Arena.ofAuto(), out, plan.rows(), plan.rowLength(), dim);
    }

    /**
     * Each token's position as the separable 3-D sin-cos table of tubelet models has it
     * ({@code sincos_3d}: the width in three parts, the 1-D tables of the token's frame, row and
     * column), for whatever grid its example has: [R, L, dim], zero for padding. Images are clips
     * of one frame.
     */
    public static Tensor sinCos3d(Packed packed, int dim) {
        if (dim % 6 != 0) {
            throw new IllegalArgumentException("a 3-D sin-cos table needs a width divisible by 6, got " + dim);
        }
        PackPlan plan = packed.plan();
        int longest = 1;
        for (PackPlan.Placement pl : plan.placements()) {
            longest = Math.max(longest, Math.max(pl.frames(), Math.max(pl.height(), pl.width())));
        }
        int part = dim / 3;
        float[] table = PositionTables.sinCos1d(longest, part).toFloatArray();
        float[] out = new float[length(plan.rows(), plan.rowLength(), dim, "positions")];
        for (PackPlan.Placement pl : plan.placements()) {
            int token = pl.row() * plan.rowLength() + pl.offset();
            for (int i = 0; i < pl.tokens(); i++, token++) {
                int at = pl.position(i);
                int t = at / (pl.height() * pl.width());
                int gy = at / pl.width() % pl.height();
                int gx = at % pl.width();
                System.arraycopy(table, t * part, out, token * dim, part);
                System.arraycopy(table, gy * part, out, token * dim + part, part);
                System.arraycopy(table, gx * part, out, token * dim + 2 * part, part);
            }
        }
        return Tensor.of(Arena.ofAuto(), out, plan.rows(), plan.rowLength(), dim);
    }

    /**
     * Each token's row and column as indices into learned position tables of {@code tableSize}
     * rows, NaViT's factorised positions: [R, L] i64 each, 0 on padding. Absolute indices are the
     * patch's row and column (a grid larger than the table is an error); fractional ones are its
     * place in [0, 1) of its own example's height or width, scaled to the table, so that examples
     * of any size share the table's whole range.
     */
    public static Tensor[] rowsAndColumns(Packed packed, int tableSize, boolean fractional) {
        if (tableSize < 1) {
            throw new IllegalArgumentException("a position table of " + tableSize + " rows");
        }
        PackPlan plan = packed.plan();
        long[] rows = new long[plan.rows() * plan.rowLength()];
        long[] cols = new long[rows.length];
        for (int e = 0; e < plan.placements().size(); e++) {
            PackPlan.Placement pl = plan.placements().get(e);
            if (!fractional && Math.max(pl.height(), pl.width()) > tableSize) {
                throw new IllegalArgumentException("example " + e + " is " + pl.height() + "×" + pl.width()
                        + " patches, more than a position table of " + tableSize
                        + " rows (fractional positions fit any)");
            }
            int token = pl.row() * plan.rowLength() + pl.offset();
            for (int i = 0; i < pl.tokens(); i++, token++) {
                int at = pl.position(i);
                int gy = at / pl.width() % pl.height();
                int gx = at % pl.width();
                rows[token] = fractional ? (long) gy * tableSize / pl.height() : gy;
                cols[token] = fractional ? (long) gx * tableSize / pl.width() : gx;
            }
        }
        Arena arena = Arena.ofAuto();
        return new Tensor[] {
            Tensor.ofLongs(arena, rows, plan.rows(), plan.rowLength()),
            Tensor.ofLongs(arena, cols, plan.rows(), plan.rowLength())
        };
    }

    /**
     * Rotary tables for each token's (frame, row, column) within its own example: cos and sin
     * [R, L, d], the head width d split into {@code sections} (t, h, w; each even), as rope_3d
     * computes them for one grid; padding rotates by 0 (cos 1, sin 0). For {@code rope(q, cos, sin,
     * sections)} in a packed model's attention.
     */
    public static Tensor[] rotary(Packed packed, int[] sections, double theta) {
        if (java.util.Arrays.stream(sections).anyMatch(v -> v < 0 || v % 2 != 0)) {
            throw new IllegalArgumentException(
                    "rotary sections must be even and ≥ 0, got " + java.util.Arrays.toString(sections));
        }
        int d = java.util.Arrays.stream(sections).sum();
        PackPlan plan = packed.plan();
        float[] cos = new float[length(plan.rows(), plan.rowLength(), d, "rotary tables")];
        float[] sin = new float[cos.length];
        java.util.Arrays.fill(cos, 1f);
        for (PackPlan.Placement pl : plan.placements()) {
            int token = pl.row() * plan.rowLength() + pl.offset();
            for (int i = 0; i < pl.tokens(); i++, token++) {
                int at = pl.position(i);
                int[] pos = {at / (pl.height() * pl.width()), at / pl.width() % pl.height(), at % pl.width()};
                PositionTables.rotaryRow(cos, sin, token * d, pos, sections, theta);
            }
        }
        Arena arena = Arena.ofAuto();
        return new Tensor[] {
            Tensor.of(arena, cos, plan.rows(), plan.rowLength(), d),
            Tensor.of(arena, sin, plan.rows(), plan.rowLength(), d)
        };
    }
}
