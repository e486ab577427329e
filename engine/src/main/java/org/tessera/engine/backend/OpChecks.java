package org.tessera.engine.backend;

import java.util.Arrays;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.ShapeMismatchException;
import org.tessera.engine.tensor.Shapes;
import org.tessera.engine.tensor.Tensor;

/**
 * Argument checks shared by every backend, so that each op reports a mismatch the same way:
 * the op's name and every shape involved.
 */
public final class OpChecks {
    private OpChecks() {}

    public static void f32(String op, String what, Tensor t) {
        if (t.dtype() != DType.F32) {
            throw new ShapeMismatchException(
                    op + ": " + what + " must be f32, got " + t.dtype().shortName() + " " + Shapes.toString(t.shape()));
        }
    }

    public static void rank(String op, String what, Tensor t, int rank) {
        if (t.rank() != rank) {
            throw new ShapeMismatchException(
                    op + ": " + what + " must be " + rank + "-D, got " + Shapes.toString(t.shape()));
        }
    }

    public static void contiguous(String op, String what, Tensor t) {
        if (!t.isContiguous()) {
            throw new ShapeMismatchException(op + ": " + what + " " + Shapes.toString(t.shape())
                    + " must be contiguous; call contiguous() first");
        }
    }

    public static void sameShape(String op, Tensor a, Tensor b) {
        if (!a.sameShape(b)) {
            throw new ShapeMismatchException(
                    op + ": shapes " + Shapes.toString(a.shape()) + " and " + Shapes.toString(b.shape()) + " differ");
        }
    }

    public static void shape(String op, String what, Tensor t, int... expected) {
        if (!hasShape(t, expected)) {
            throw new ShapeMismatchException(
                    op + ": " + what + " must be " + Shapes.toString(expected) + ", got " + Shapes.toString(t.shape()));
        }
    }

    /*
     * The checks run on every kernel call, so on success they read sizes and allocate nothing
     * (Tensor.shape() returns a copy); the messages that need arrays are built only on failure.
     */

    /** Whether t's shape equals {@code expected}, without copying it. */
    private static boolean hasShape(Tensor t, int[] expected) {
        if (t.rank() != expected.length) {
            return false;
        }
        for (int i = 0; i < expected.length; i++) {
            if (t.size(i) != expected[i]) {
                return false;
            }
        }
        return true;
    }

    /** Whether a and b broadcast (NumPy rules) to exactly out's shape, without building it. */
    private static boolean broadcastsExactlyTo(Tensor a, Tensor b, Tensor out) {
        int rank = out.rank();
        if (rank != Math.max(a.rank(), b.rank())) {
            return false;
        }
        for (int i = 0; i < rank; i++) {
            int ia = i - (rank - a.rank());
            int ib = i - (rank - b.rank());
            int da = ia < 0 ? 1 : a.size(ia);
            int db = ib < 0 ? 1 : b.size(ib);
            int want = out.size(i);
            if ((da != want && da != 1) || (db != want && db != 1) || (da == 1 && db == 1 && want != 1)) {
                return false;
            }
        }
        return true;
    }

    /** A [M, K] · B [K, N] → C [M, N]; C rows contiguous. */
    public static void gemm(Tensor a, int bRows, int bCols, Tensor c) {
        f32("gemm", "A", a);
        f32("gemm", "C", c);
        if (a.rank() != 2 || c.rank() != 2) {
            throw new ShapeMismatchException(
                    "gemm: A " + Shapes.toString(a.shape()) + " and C " + Shapes.toString(c.shape()) + " must be 2-D");
        }
        if (a.size(1) != bRows) {
            throw new ShapeMismatchException("gemm: A " + Shapes.toString(a.shape()) + " and B [" + bRows + ", " + bCols
                    + "]: inner dimensions " + a.size(1) + " and " + bRows + " differ");
        }
        if (c.size(0) != a.size(0) || c.size(1) != bCols) {
            throw new ShapeMismatchException("gemm: A " + Shapes.toString(a.shape()) + " · B [" + bRows + ", " + bCols
                    + "] is [" + a.size(0) + ", " + bCols + "] but C is " + Shapes.toString(c.shape()));
        }
        if (c.size(1) > 1 && c.stride(1) != 1) {
            throw new ShapeMismatchException("gemm: C " + Shapes.toString(c.shape()) + " must have contiguous rows");
        }
    }

    public static void gemm(Tensor a, Tensor b, Tensor c) {
        f32("gemm", "B", b);
        rank("gemm", "B", b, 2);
        gemm(a, b.size(0), b.size(1), c);
    }

    public static void epilogue(Epilogue e, int n) {
        if (e.bias() != null) {
            f32("gemm", "bias", e.bias());
            if (e.bias().rank() != 1 || e.bias().size(0) != n || !e.bias().isContiguous()) {
                throw new ShapeMismatchException("gemm: bias must be a contiguous [" + n + "], got "
                        + Shapes.toString(e.bias().shape()));
            }
        }
    }

    public static void batchedGemm(Tensor a, Tensor b, Tensor c) {
        if (a.rank() != 3 || b.rank() != 3 || c.rank() != 3) {
            throw new ShapeMismatchException("batchedGemm: A " + Shapes.toString(a.shape()) + ", B "
                    + Shapes.toString(b.shape()) + " and C " + Shapes.toString(c.shape()) + " must be 3-D");
        }
        if (a.size(0) != b.size(0) || a.size(0) != c.size(0)) {
            throw new ShapeMismatchException("batchedGemm: batch sizes of A " + Shapes.toString(a.shape()) + ", B "
                    + Shapes.toString(b.shape()) + " and C " + Shapes.toString(c.shape()) + " differ");
        }
    }

    /** x [..., in] → out [..., out], both contiguous. */
    public static void linear(Tensor x, int in, int outFeatures, Tensor out) {
        if (x.rank() < 1 || x.size(-1) != in) {
            throw new ShapeMismatchException("linear: input " + Shapes.toString(x.shape()) + " must end in " + in
                    + " features for a weight [" + outFeatures + ", " + in + "]");
        }
        boolean fits = out.rank() == x.rank() && out.size(-1) == outFeatures;
        for (int i = 0; fits && i < x.rank() - 1; i++) {
            fits = out.size(i) == x.size(i);
        }
        if (!fits) {
            int[] expected = x.shape();
            expected[expected.length - 1] = outFeatures;
            throw new ShapeMismatchException(
                    "linear: output must be " + Shapes.toString(expected) + ", got " + Shapes.toString(out.shape()));
        }
        contiguous("linear", "input", x);
        contiguous("linear", "output", out);
    }

    /** A contiguous [..., D] tensor viewed as 2-D rows [prod(...), D]. */
    public static Tensor rows(Tensor t) {
        return t.reshape(-1, t.size(-1));
    }

    /** Attention operand checks; returns nothing, throws with every shape on mismatch. */
    public static void attention(Tensor q, Tensor k, Tensor v, Tensor out) {
        attentionOperand(q);
        attentionOperand(k);
        attentionOperand(v);
        attentionOperand(out);
        boolean ok = q.size(0) == k.size(0)
                && q.size(0) == v.size(0)
                && q.size(1) == k.size(1)
                && q.size(1) == v.size(1)
                && k.size(2) == v.size(2)
                && q.size(3) == k.size(3)
                && v.size(3) == q.size(3);
        if (!ok) {
            throw new ShapeMismatchException("attention: Q " + Shapes.toString(q.shape()) + ", K "
                    + Shapes.toString(k.shape()) + " and V " + Shapes.toString(v.shape()) + " do not fit together");
        }
        if (!out.sameShape(q)) {
            throw new ShapeMismatchException("attention: output must be " + Shapes.toString(q.shape()) + ", got "
                    + Shapes.toString(out.shape()));
        }
        if (out.stride(3) != 1) {
            throw new ShapeMismatchException("attention: output rows must be contiguous");
        }
    }

    /** One operand of attention: f32 and [batch, heads, tokens, dim] (one call each: no array per run). */
    private static void attentionOperand(Tensor t) {
        f32("attention", "operand", t);
        if (t.rank() != 4) {
            throw new ShapeMismatchException(
                    "attention: operands must be [batch, heads, tokens, dim], got " + Shapes.toString(t.shape()));
        }
    }

    /** Checks that a mask fits [B, H, Nq, Nk]. */
    public static void mask(AttentionMask mask, int b, int h, int nq, int nk) {
        switch (mask) {
            case AttentionMask.None n -> {}
            case AttentionMask.Additive a -> {
                Tensor bias = a.bias();
                int rank = bias.rank();
                for (int i = 0; i < rank; i++) {
                    int at = 4 - rank + i;
                    int fd = at == 0 ? b : at == 1 ? h : at == 2 ? nq : nk;
                    if (bias.size(i) != 1 && bias.size(i) != fd) {
                        throw new ShapeMismatchException("attention: additive mask " + Shapes.toString(bias.shape())
                                + " does not broadcast to " + Shapes.toString(new int[] {b, h, nq, nk}));
                    }
                }
                f32("attention", "mask", a.bias());
            }
            case AttentionMask.Segments s -> {
                if (s.query().length != b || s.key().length != b) {
                    throw new ShapeMismatchException("attention: segment ids for " + s.query().length + " and "
                            + s.key().length + " batch rows, expected " + b);
                }
                for (int i = 0; i < b; i++) {
                    if (s.query()[i].length != nq || s.key()[i].length != nk) {
                        throw new ShapeMismatchException("attention: segment ids of batch row " + i + " have "
                                + s.query()[i].length + " queries and " + s.key()[i].length + " keys, expected "
                                + nq + " and " + nk);
                    }
                }
            }
        }
    }

    // ---------------------------------------------------------------- pointwise, norms, tables, conv

    /** A binary pointwise op: a, b and out are f32; out is contiguous with the broadcast shape of a and b. */
    public static void broadcastBinary(String op, Tensor a, Tensor b, Tensor out) {
        f32(op, "a", a);
        f32(op, "b", b);
        f32(op, "output", out);
        if (broadcastsExactlyTo(a, b, out)) {
            contiguous(op, "output", out);
            return;
        }
        int[] expected = Shapes.broadcast(op, a.shape(), b.shape());
        if (!Arrays.equals(out.shape(), expected)) {
            throw new ShapeMismatchException(op + ": a " + Shapes.toString(a.shape()) + " and b "
                    + Shapes.toString(b.shape()) + " broadcast to " + Shapes.toString(expected) + " but the output is "
                    + Shapes.toString(out.shape()));
        }
        contiguous(op, "output", out);
    }

    /** A unary pointwise op: x (any view) and a contiguous out of the same shape, both f32. */
    public static void pointwise(String op, Tensor x, Tensor out) {
        f32(op, "input", x);
        f32(op, "output", out);
        sameShape(op, x, out);
        contiguous(op, "output", out);
    }

    /** {@code t} broadcasts to {@code shape} (NumPy rules) without enlarging it. */
    public static void broadcastsTo(String op, String what, Tensor t, int[] shape) {
        f32(op, what, t);
        int rank = t.rank();
        boolean ok = rank <= shape.length;
        for (int i = 0; ok && i < rank; i++) {
            int want = shape[shape.length - rank + i];
            ok = t.size(i) == want || t.size(i) == 1;
        }
        if (!ok) {
            throw new ShapeMismatchException(op + ": " + what + " " + Shapes.toString(t.shape())
                    + " does not broadcast to " + Shapes.toString(shape));
        }
    }

    /** {@link #broadcastsTo(String, String, Tensor, int[])} against another tensor's shape, without copying it. */
    public static void broadcastsTo(String op, String what, Tensor t, Tensor target) {
        f32(op, what, t);
        int rank = t.rank();
        int full = target.rank();
        boolean ok = rank <= full;
        for (int i = 0; ok && i < rank; i++) {
            int want = target.size(full - rank + i);
            ok = t.size(i) == want || t.size(i) == 1;
        }
        if (!ok) {
            throw new ShapeMismatchException(op + ": " + what + " " + Shapes.toString(t.shape())
                    + " does not broadcast to " + Shapes.toString(target.shape()));
        }
    }

    /** A row-wise op over the last dimension: x and out contiguous f32 of one shape, rank at least 1. */
    public static void rowwise(String op, Tensor x, Tensor out) {
        f32(op, "input", x);
        f32(op, "output", out);
        if (x.rank() < 1) {
            throw new ShapeMismatchException(
                    op + ": input must have at least one dimension, got " + Shapes.toString(x.shape()));
        }
        sameShape(op, x, out);
        contiguous(op, "input", x);
        contiguous(op, "output", out);
    }

    /** An optional per-feature parameter: null, or a contiguous f32 [n]. */
    public static void optionalVector(String op, String what, Tensor v, int n) {
        if (v == null) {
            return;
        }
        f32(op, what, v);
        if (v.rank() != 1 || v.size(0) != n || !v.isContiguous()) {
            throw new ShapeMismatchException(
                    op + ": " + what + " must be a contiguous [" + n + "], got " + Shapes.toString(v.shape()));
        }
    }

    /** GroupNorm: x [N, C, *] contiguous, C divisible by groups, weight and bias null or [C]. */
    public static void groupNorm(Tensor x, int groups, Tensor weight, Tensor bias, Tensor out) {
        rowwise("groupNorm", x, out);
        if (x.rank() < 2) {
            throw new ShapeMismatchException("groupNorm: input must be [N, C, *], got " + Shapes.toString(x.shape()));
        }
        int c = x.size(1);
        if (groups <= 0 || c % groups != 0) {
            throw new ShapeMismatchException("groupNorm: " + c + " channels of " + Shapes.toString(x.shape())
                    + " cannot form " + groups + " groups");
        }
        optionalVector("groupNorm", "weight", weight, c);
        optionalVector("groupNorm", "bias", bias, c);
    }

    /** A table op's output: a contiguous f32 [rows, dim]. */
    public static void table(String op, Tensor out, int rows) {
        f32(op, "output", out);
        if (out.rank() != 2 || out.size(0) != rows) {
            throw new ShapeMismatchException(
                    op + ": output must be [" + rows + ", dim], got " + Shapes.toString(out.shape()));
        }
        contiguous(op, "output", out);
    }

    /** sinCos1d: positions [L], out contiguous f32 [L, dim] with dim even. */
    public static void sinCos1d(Tensor positions, Tensor out) {
        rank("sinCos1d", "positions", positions, 1);
        table("sinCos1d", out, positions.size(0));
        if (out.size(1) % 2 != 0) {
            throw new ShapeMismatchException("sinCos1d: dim must be even, output is " + Shapes.toString(out.shape()));
        }
    }

    /** sinCos2d: a non-negative grid, out contiguous f32 [gridH·gridW, dim] with dim divisible by 4. */
    public static void sinCos2d(int gridH, int gridW, Tensor out) {
        if (gridH < 0 || gridW < 0) {
            throw new ShapeMismatchException("sinCos2d: negative grid " + gridH + " × " + gridW);
        }
        table("sinCos2d", out, gridH * gridW);
        if (out.size(1) % 4 != 0) {
            throw new ShapeMismatchException(
                    "sinCos2d: dim must be divisible by 4, output is " + Shapes.toString(out.shape()));
        }
    }

    /**
     * Patch embedding: x [N, C, *spatial] (2 or 3 spatial dims), weight [D, C, *patch] with each
     * spatial size divisible by its patch size, bias null or [D], out contiguous [N, tokens, D].
     */
    public static void patchEmbed(String op, Tensor x, Tensor weight, Tensor bias, Tensor out, int spatialDims) {
        f32(op, "input", x);
        f32(op, "weight", weight);
        f32(op, "output", out);
        int rank = spatialDims + 2;
        if (x.rank() != rank || weight.rank() != rank) {
            throw new ShapeMismatchException(op + ": input " + Shapes.toString(x.shape()) + " and weight "
                    + Shapes.toString(weight.shape()) + " must be " + rank + "-D");
        }
        if (weight.size(1) != x.size(1)) {
            throw new ShapeMismatchException(op + ": weight " + Shapes.toString(weight.shape()) + " expects "
                    + weight.size(1) + " channels but input " + Shapes.toString(x.shape()) + " has " + x.size(1));
        }
        int tokens = 1;
        for (int i = 2; i < rank; i++) {
            int p = weight.size(i);
            if (p == 0 || x.size(i) % p != 0) {
                throw new ShapeMismatchException(op + ": input " + Shapes.toString(x.shape())
                        + " is not divisible into patches of weight " + Shapes.toString(weight.shape()));
            }
            tokens *= x.size(i) / p;
        }
        optionalVector(op, "bias", bias, weight.size(0));
        shape(op, "output", out, x.size(0), tokens, weight.size(0));
        contiguous(op, "output", out);
    }

    /** conv2d: x [N, C, H, W], weight [O, C, kh, kw], bias null or [O], out contiguous [N, O, Ho, Wo]. */
    public static void conv2d(Tensor x, Tensor weight, Tensor bias, int stride, int padding, Tensor out) {
        f32("conv2d", "input", x);
        f32("conv2d", "weight", weight);
        f32("conv2d", "output", out);
        if (x.rank() != 4 || weight.rank() != 4 || weight.size(1) != x.size(1)) {
            throw new ShapeMismatchException("conv2d: input " + Shapes.toString(x.shape()) + " [N, C, H, W] and weight "
                    + Shapes.toString(weight.shape()) + " [O, C, kh, kw] do not fit together");
        }
        if (stride < 1 || padding < 0) {
            throw new ShapeMismatchException(
                    "conv2d: stride " + stride + " and padding " + padding + " must be positive and non-negative");
        }
        int hp = x.size(2) + 2 * padding - weight.size(2);
        int wp = x.size(3) + 2 * padding - weight.size(3);
        if (hp < 0 || wp < 0 || weight.size(2) == 0 || weight.size(3) == 0) {
            throw new ShapeMismatchException("conv2d: kernel of weight " + Shapes.toString(weight.shape())
                    + " does not fit input " + Shapes.toString(x.shape()) + " padded by " + padding);
        }
        optionalVector("conv2d", "bias", bias, weight.size(0));
        shape("conv2d", "output", out, x.size(0), weight.size(0), hp / stride + 1, wp / stride + 1);
        contiguous("conv2d", "output", out);
    }

    /** upsampleNearest2d: x [N, C, H, W], factor ≥ 1, out contiguous [N, C, H·f, W·f]. */
    public static void upsampleNearest2d(Tensor x, int factor, Tensor out) {
        f32("upsampleNearest2d", "input", x);
        f32("upsampleNearest2d", "output", out);
        rank("upsampleNearest2d", "input", x, 4);
        if (factor < 1) {
            throw new ShapeMismatchException("upsampleNearest2d: factor must be at least 1, got " + factor
                    + " for input " + Shapes.toString(x.shape()));
        }
        shape("upsampleNearest2d", "output", out, x.size(0), x.size(1), x.size(2) * factor, x.size(3) * factor);
        contiguous("upsampleNearest2d", "output", out);
    }
}
