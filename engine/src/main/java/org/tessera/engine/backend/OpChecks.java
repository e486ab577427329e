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
            throw new ShapeMismatchException(op + ": " + what + " must be f32, got " + t.dtype().shortName() + " "
                    + Shapes.toString(t.shape()));
        }
    }

    public static void rank(String op, String what, Tensor t, int rank) {
        if (t.rank() != rank) {
            throw new ShapeMismatchException(op + ": " + what + " must be " + rank + "-D, got " + Shapes.toString(t.shape()));
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
            throw new ShapeMismatchException(op + ": shapes " + Shapes.toString(a.shape()) + " and "
                    + Shapes.toString(b.shape()) + " differ");
        }
    }

    public static void shape(String op, String what, Tensor t, int... expected) {
        if (!Arrays.equals(t.shape(), expected)) {
            throw new ShapeMismatchException(op + ": " + what + " must be " + Shapes.toString(expected) + ", got "
                    + Shapes.toString(t.shape()));
        }
    }

    /** A [M, K] · B [K, N] → C [M, N]; C rows contiguous. */
    public static void gemm(Tensor a, int bRows, int bCols, Tensor c) {
        f32("gemm", "A", a);
        f32("gemm", "C", c);
        if (a.rank() != 2 || c.rank() != 2) {
            throw new ShapeMismatchException("gemm: A " + Shapes.toString(a.shape()) + " and C "
                    + Shapes.toString(c.shape()) + " must be 2-D");
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
        int[] expected = x.shape();
        expected[expected.length - 1] = outFeatures;
        if (!Arrays.equals(out.shape(), expected)) {
            throw new ShapeMismatchException("linear: output must be " + Shapes.toString(expected) + ", got "
                    + Shapes.toString(out.shape()));
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
        for (Tensor t : new Tensor[] {q, k, v, out}) {
            f32("attention", "operand", t);
            if (t.rank() != 4) {
                throw new ShapeMismatchException("attention: operands must be [batch, heads, tokens, dim], got "
                        + Shapes.toString(t.shape()));
            }
        }
        int[] qs = q.shape();
        int[] ks = k.shape();
        int[] vs = v.shape();
        boolean ok = qs[0] == ks[0] && qs[0] == vs[0] && qs[1] == ks[1] && qs[1] == vs[1]
                && ks[2] == vs[2] && qs[3] == ks[3] && vs[3] == qs[3];
        if (!ok) {
            throw new ShapeMismatchException("attention: Q " + Shapes.toString(qs) + ", K " + Shapes.toString(ks)
                    + " and V " + Shapes.toString(vs) + " do not fit together");
        }
        shape("attention", "output", out, qs);
        if (out.stride(3) != 1) {
            throw new ShapeMismatchException("attention: output rows must be contiguous");
        }
    }

    /** Checks that a mask fits [B, H, Nq, Nk]. */
    public static void mask(AttentionMask mask, int b, int h, int nq, int nk) {
        switch (mask) {
            case AttentionMask.None n -> { }
            case AttentionMask.Additive a -> {
                int[] s = a.bias().shape();
                int[] full = {b, h, nq, nk};
                for (int i = 0; i < s.length; i++) {
                    int fd = full[4 - s.length + i];
                    if (s[i] != 1 && s[i] != fd) {
                        throw new ShapeMismatchException("attention: additive mask " + Shapes.toString(s)
                                + " does not broadcast to " + Shapes.toString(full));
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
}
