package org.tessera.engine.graph;

import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.ShapeMismatchException;
import org.tessera.engine.tensor.Shapes;

/**
 * What the ops' shape rules ({@link Op#infer}) share: the checks and the message form
 * {@code op: detail with every shape involved}; {@link GraphBuilder} adds the source location.
 */
final class ShapeRules {
    private ShapeRules() {}

    /** Every non-null operand must be f32 (float ops; a cast converts). */
    static void f32(String op, Value... vs) {
        for (Value v : vs) {
            if (v != null && v.dtype() != DType.F32) {
                throw mismatch(op, "operand " + v.dtype().shortName() + dims(v) + " must be f32 (use cast)");
            }
        }
    }

    /** {@code v}, when present, must be a vector of {@code n} (a norm's weight, a bias). */
    static void vector(String op, String what, Value v, int n, Value of) {
        if (v != null && (v.rank() != 1 || v.size(0) != n)) {
            throw mismatch(op, what + " " + dims(v) + " must be [" + n + "] for " + dims(of));
        }
    }

    /** {@code dim} of x, a negative one counted from the end. */
    static int axis(String op, Value x, int dim) {
        int d = dim < 0 ? dim + x.rank() : dim;
        if (d < 0 || d >= x.rank()) {
            throw mismatch(op, "dim " + dim + " out of range for " + dims(x));
        }
        return d;
    }

    /** Whether shape {@code s} broadcasts to {@code shape} (NumPy rules, trailing dims aligned). */
    static boolean broadcastsTo(int[] s, int[] shape) {
        if (s.length > shape.length) {
            return false;
        }
        for (int i = 0; i < s.length; i++) {
            int want = shape[shape.length - s.length + i];
            if (s[i] != want && s[i] != 1) {
                return false;
            }
        }
        return true;
    }

    static String dims(Value v) {
        return Shapes.toString(v.shape());
    }

    static ShapeMismatchException mismatch(String op, String detail) {
        return new ShapeMismatchException(op + ": " + detail);
    }
}
