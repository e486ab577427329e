package org.tessera.engine.reference;

import java.util.function.DoubleBinaryOperator;
import java.util.function.DoubleUnaryOperator;
import org.tessera.engine.backend.Activation;
import org.tessera.engine.backend.ElementwiseOps;
import org.tessera.engine.backend.OpChecks;
import org.tessera.engine.tensor.Tensor;

/**
 * Pointwise ops one element at a time in double, with NumPy broadcasting by explicit index
 * arithmetic: the reference the SIMD kernels are tested against. Inputs are read in full before
 * the output is written, so aliasing is harmless.
 */
public final class ScalarElementwise implements ElementwiseOps {

    /** A reference with no state. */
    public ScalarElementwise() {}

    @Override
    public void add(Tensor a, Tensor b, Tensor out) {
        binary("add", a, b, out, (x, y) -> x + y);
    }

    @Override
    public void sub(Tensor a, Tensor b, Tensor out) {
        binary("sub", a, b, out, (x, y) -> x - y);
    }

    @Override
    public void mul(Tensor a, Tensor b, Tensor out) {
        binary("mul", a, b, out, (x, y) -> x * y);
    }

    @Override
    public void div(Tensor a, Tensor b, Tensor out) {
        binary("div", a, b, out, (x, y) -> x / y);
    }

    @Override
    public void axpby(float alpha, Tensor x, float beta, Tensor y, Tensor out) {
        OpChecks.pointwise("axpby", x, out);
        OpChecks.f32("axpby", "y", y);
        OpChecks.sameShape("axpby", x, y);
        double[] xv = x.toDoubleArray();
        double[] yv = y.toDoubleArray();
        double[] r = new double[xv.length];
        for (int i = 0; i < r.length; i++) {
            r[i] = (double) alpha * xv[i] + (double) beta * yv[i];
        }
        RefArrays.write(out, r);
    }

    @Override
    public void clamp(Tensor x, float lo, float hi, Tensor out) {
        if (!(lo <= hi)) {
            throw new IllegalArgumentException("clamp: min " + lo + " must not exceed max " + hi);
        }
        unary("clamp", x, out, v -> Double.isNaN(v) ? v : Math.min(Math.max(v, lo), hi));
    }

    @Override
    public void gelu(Tensor x, Tensor out) {
        unary("gelu", x, out, Activation.GELU_TANH::apply);
    }

    @Override
    public void silu(Tensor x, Tensor out) {
        unary("silu", x, out, Activation.SILU::apply);
    }

    /** out = x·(1 + scale) + shift, shift and scale broadcast to x's shape. */
    @Override
    public void modulate(Tensor x, Tensor shift, Tensor scale, Tensor out) {
        OpChecks.pointwise("modulate", x, out);
        int[] shape = x.shape();
        OpChecks.broadcastsTo("modulate", "shift", shift, shape);
        OpChecks.broadcastsTo("modulate", "scale", scale, shape);
        double[] xv = x.toDoubleArray();
        double[] sh = shift.toDoubleArray();
        double[] sc = scale.toDoubleArray();
        long[] shStrides = RefArrays.broadcastStrides(shift.shape(), shape);
        long[] scStrides = RefArrays.broadcastStrides(scale.shape(), shape);
        double[] r = new double[xv.length];
        for (int i = 0; i < r.length; i++) {
            r[i] = xv[i] * (1 + sc[RefArrays.index(i, shape, scStrides)]) + sh[RefArrays.index(i, shape, shStrides)];
        }
        RefArrays.write(out, r);
    }

    private static void binary(String op, Tensor a, Tensor b, Tensor out, DoubleBinaryOperator f) {
        OpChecks.broadcastBinary(op, a, b, out);
        int[] shape = out.shape();
        double[] av = a.toDoubleArray();
        double[] bv = b.toDoubleArray();
        long[] as = RefArrays.broadcastStrides(a.shape(), shape);
        long[] bs = RefArrays.broadcastStrides(b.shape(), shape);
        double[] r = new double[Math.toIntExact(out.numel())];
        for (int i = 0; i < r.length; i++) {
            r[i] = f.applyAsDouble(av[RefArrays.index(i, shape, as)], bv[RefArrays.index(i, shape, bs)]);
        }
        RefArrays.write(out, r);
    }

    private static void unary(String op, Tensor x, Tensor out, DoubleUnaryOperator f) {
        OpChecks.pointwise(op, x, out);
        double[] xv = x.toDoubleArray();
        double[] r = new double[xv.length];
        for (int i = 0; i < r.length; i++) {
            r[i] = f.applyAsDouble(xv[i]);
        }
        RefArrays.write(out, r);
    }
}
