package org.tessera.engine.graph;

import java.util.ArrayList;
import java.util.List;
import org.tessera.engine.tensor.ShapeMismatchException;
import org.tessera.engine.tensor.Tensor;

/**
 * Position encodings for video tokens, as tables computed once (in double, rounded once) and
 * nodes of existing ops, so that they fold, run on every backend and have gradients:
 *
 * <ul>
 *   <li>{@link #sinCos1d}: MAE's 1-D table, [sin(p·ω_i) | cos(p·ω_i)], ω_i = 10000^(−i/(D/2));
 *       Latte's temporal table;
 *   <li>{@link #sinCos3d}: separable 3-D sin-cos for tubelets — the width split in three equal
 *       parts (D divisible by 6), each the 1-D table of the token's frame, row and column;
 *   <li>{@link #rope3d}: rotary embeddings over (t, h, w) applied to queries or keys: the head
 *       dimension split in three sections (each even), each rotated by the angle of its axis'
 *       position, with the half-split pairing (x_i, x_{i+d/2}) within a section.
 * </ul>
 *
 * Tokens are ordered frames slowest, then rows, then columns, as {@code patch_embed_3d} makes them.
 */
public final class PositionTables {
    private PositionTables() {}

    /** [length, dim]: row p is MAE's 1-D sin-cos of position p. */
    public static Tensor sinCos1d(int length, int dim) {
        if (length < 1 || dim < 2 || dim % 2 != 0) {
            throw new ShapeMismatchException(
                    "sincos_1d: needs a length of at least 1 and an even width, got " + length + " and " + dim);
        }
        float[] v = new float[length * dim];
        for (int p = 0; p < length; p++) {
            fill1d(v, p * dim, dim, p);
        }
        return Tensor.of(v, length, dim);
    }

    /** [gt·gh·gw, dim]: [1-D(t) | 1-D(h) | 1-D(w)], each dim/3 wide. */
    public static Tensor sinCos3d(int gridT, int gridH, int gridW, int dim) {
        if (gridT < 1 || gridH < 1 || gridW < 1 || dim % 6 != 0 || dim == 0) {
            throw new ShapeMismatchException("sincos_3d: needs a grid of at least 1 × 1 × 1 and a width divisible by 6,"
                    + " got " + gridT + " × " + gridH + " × " + gridW + " and " + dim);
        }
        int part = dim / 3;
        int n = gridT * gridH * gridW;
        float[] v = new float[n * dim];
        for (int t = 0, row = 0; t < gridT; t++) {
            for (int h = 0; h < gridH; h++) {
                for (int w = 0; w < gridW; w++, row++) {
                    fill1d(v, row * dim, part, t);
                    fill1d(v, row * dim + part, part, h);
                    fill1d(v, row * dim + 2 * part, part, w);
                }
            }
        }
        return Tensor.of(v, n, dim);
    }

    private static void fill1d(float[] v, int at, int dim, int position) {
        int half = dim / 2;
        for (int i = 0; i < half; i++) {
            double angle = position / Math.pow(10000, i / (dim / 2.0));
            v[at + i] = (float) Math.sin(angle);
            v[at + half + i] = (float) Math.cos(angle);
        }
    }

    /**
     * x [B, H, N, d] (queries or keys, N = gt·gh·gw) rotated by position: for each section s of
     * width d_s (t, h, w in turn, {@code sections} summing to d) and pair i &lt; d_s/2 within it,
     * with angle a = pos_s · theta^(−2i/d_s),
     * <pre>  (x_i, x_{i+d_s/2}) ↦ (x_i·cos a − x_{i+d_s/2}·sin a,  x_{i+d_s/2}·cos a + x_i·sin a)</pre>
     * built as x ⊙ cos + rotate_half(x) ⊙ sin with constant tables [N, d].
     */
    public static Value rope3d(GraphBuilder g, Value x, int gridT, int gridH, int gridW, int[] sections, double theta) {
        int d = x.shape()[x.rank() - 1];
        int n = gridT * gridH * gridW;
        if (x.rank() != 4 || x.shape()[2] != n) {
            throw new ShapeMismatchException("rope_3d: x must be [B, heads, " + n + " tokens, d] for a grid of " + gridT
                    + " × " + gridH + " × " + gridW + ", got " + java.util.Arrays.toString(x.shape()));
        }
        if (sections.length != 3 || sections[0] + sections[1] + sections[2] != d) {
            throw new ShapeMismatchException("rope_3d: the sections (t, h, w) must sum to the head width " + d
                    + ", got " + java.util.Arrays.toString(sections));
        }
        for (int s : sections) {
            if (s < 0 || s % 2 != 0) {
                throw new ShapeMismatchException(
                        "rope_3d: every section must be even, got " + java.util.Arrays.toString(sections));
            }
        }
        float[] cos = new float[n * d];
        float[] sin = new float[n * d];
        for (int t = 0, row = 0; t < gridT; t++) {
            for (int h = 0; h < gridH; h++) {
                for (int w = 0; w < gridW; w++, row++) {
                    rotaryRow(cos, sin, row * d, new int[] {t, h, w}, sections, theta);
                }
            }
        }
        Value cosT = g.constant("rope_3d.cos", Tensor.of(cos, n, d));
        Value sinT = g.constant("rope_3d.sin", Tensor.of(sin, n, d));
        return rotate(g, x, cosT, sinT, sections);
    }

    /**
     * One token's rotary tables at {@code at}: for section s and pair i, both members of the pair
     * (x_i, x_{i+d_s/2}) turn by a = pos_s · theta^(−2i/d_s).
     */
    public static void rotaryRow(float[] cos, float[] sin, int at, int[] pos, int[] sections, double theta) {
        for (int s = 0, o = at; s < sections.length; o += sections[s], s++) {
            int half = sections[s] / 2;
            for (int i = 0; i < half; i++) {
                double angle = pos[s] * Math.pow(theta, -2.0 * i / sections[s]);
                cos[o + i] = cos[o + i + half] = (float) Math.cos(angle);
                sin[o + i] = sin[o + i + half] = (float) Math.sin(angle);
            }
        }
    }

    /**
     * x ⊙ cos + rotate_half(x) ⊙ sin, rotate_half within each section: [a | b] ↦ [−b | a]; cos
     * and sin broadcast against x (constant [N, d] tables, or per-token [B, 1, N, d] inputs).
     */
    public static Value rotate(GraphBuilder g, Value x, Value cos, Value sin, int[] sections) {
        List<Value> parts = new ArrayList<>();
        int last = x.rank() - 1;
        for (int s = 0, at = 0; s < sections.length; at += sections[s], s++) {
            if (sections[s] == 0) {
                continue;
            }
            int half = sections[s] / 2;
            parts.add(g.mulScalar(g.slice(x, last, at + half, at + sections[s]), -1f));
            parts.add(g.slice(x, last, at, at + half));
        }
        Value rotated = g.concat(parts, last);
        return g.add(g.mul(x, cos), g.mul(rotated, sin));
    }
}
