package org.tessera.engine.reference;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.tessera.engine.backend.Activation;
import org.tessera.engine.backend.BackwardOps;
import org.tessera.engine.tensor.Tensor;

/**
 * The backward kernels as plain loops in double, one element at a time: the reference the SIMD
 * ones are tested against.
 */
public final class ScalarBackward implements BackwardOps {
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;

    @Override
    public void activationGrad(Activation activation, Tensor pre, Tensor g, Tensor out) {
        MemorySegment p = pre.storage();
        MemorySegment gs = g.storage();
        MemorySegment o = out.storage();
        for (long i = 0, n = out.numel(); i < n; i++) {
            double x = p.get(F, pre.byteOffset() + 4 * i);
            o.set(F, out.byteOffset() + 4 * i, (float) (gs.get(F, g.byteOffset() + 4 * i) * derivative(activation, x)));
        }
    }

    /**
     * act'(x) in double. GELU-tanh: ½(1 + tanh u) + ½x(1 − tanh² u)·√(2/π)(1 + 3·0.044715x²) with
     * u = √(2/π)(x + 0.044715x³), written with s = σ(2u) = ½(1 + tanh u) and 1 − tanh²u = 4s(1 − s);
     * SiLU: σ(x)(1 + x(1 − σ(x))).
     */
    public static double derivative(Activation activation, double x) {
        return switch (activation) {
            case NONE -> 1;
            case GELU_TANH -> {
                double c = Activation.SQRT_2_OVER_PI;
                double s = 1 / (1 + Math.exp(-2 * c * (x + 0.044715 * x * x * x)));
                yield s + 2 * x * s * (1 - s) * c * (1 + 3 * 0.044715 * x * x);
            }
            case SILU -> {
                double sig = 1 / (1 + Math.exp(-x));
                yield sig * (1 + x * (1 - sig));
            }
        };
    }

    /** An odometer over x's index keeps out's offset in step: 0 stride where out broadcasts. */
    @Override
    public void sumTo(Tensor x, Tensor out) {
        int rank = x.rank();
        int[] xs = x.shape();
        long[] outStride = new long[rank];
        long s = 1;
        for (int d = rank - 1; d >= 0; d--) {
            int od = d - (rank - out.rank());
            if (od >= 0 && out.size(od) != 1) {
                outStride[d] = s;
                s *= out.size(od);
            }
        }
        double[] acc = new double[(int) out.numel()];
        int[] idx = new int[rank];
        MemorySegment src = x.storage();
        long o = 0;
        for (long i = 0, n = x.numel(); i < n; i++) {
            acc[(int) o] += src.get(F, x.byteOffset() + 4 * i);
            for (int d = rank - 1; d >= 0; d--) {
                if (++idx[d] < xs[d]) {
                    o += outStride[d];
                    break;
                }
                o -= outStride[d] * (xs[d] - 1);
                idx[d] = 0;
            }
        }
        for (int i = 0; i < acc.length; i++) {
            out.storage().set(F, out.byteOffset() + 4L * i, (float) acc[i]);
        }
    }

    @Override
    public void layerNormGrad(Tensor x, Tensor gy, float eps, Tensor out) {
        int c = x.size(-1);
        MemorySegment xs = x.storage();
        MemorySegment gs = gy.storage();
        MemorySegment os = out.storage();
        for (long r = 0, rows = x.numel() / c; r < rows; r++) {
            long xb = x.byteOffset() + 4 * r * c;
            long gb = gy.byteOffset() + 4 * r * c;
            long ob = out.byteOffset() + 4 * r * c;
            double mean = 0;
            for (int i = 0; i < c; i++) {
                mean += xs.get(F, xb + 4L * i);
            }
            mean /= c;
            double var = 0;
            for (int i = 0; i < c; i++) {
                double d = xs.get(F, xb + 4L * i) - mean;
                var += d * d;
            }
            double rstd = 1 / Math.sqrt(var / c + eps);
            double meanG = 0;
            double meanGx = 0;
            for (int i = 0; i < c; i++) {
                double g = gs.get(F, gb + 4L * i);
                meanG += g;
                meanGx += g * (xs.get(F, xb + 4L * i) - mean) * rstd;
            }
            meanG /= c;
            meanGx /= c;
            for (int i = 0; i < c; i++) {
                double xhat = (xs.get(F, xb + 4L * i) - mean) * rstd;
                os.set(F, ob + 4L * i, (float) ((gs.get(F, gb + 4L * i) - meanG - xhat * meanGx) * rstd));
            }
        }
    }

    @Override
    public void softmaxGrad(Tensor y, Tensor gy, Tensor out) {
        int c = y.size(-1);
        MemorySegment ys = y.storage();
        MemorySegment gs = gy.storage();
        MemorySegment os = out.storage();
        for (long r = 0, rows = y.numel() / c; r < rows; r++) {
            long yb = y.byteOffset() + 4 * r * c;
            long gb = gy.byteOffset() + 4 * r * c;
            long ob = out.byteOffset() + 4 * r * c;
            double dot = 0;
            for (int i = 0; i < c; i++) {
                dot += (double) gs.get(F, gb + 4L * i) * ys.get(F, yb + 4L * i);
            }
            for (int i = 0; i < c; i++) {
                os.set(F, ob + 4L * i, (float) (ys.get(F, yb + 4L * i) * (gs.get(F, gb + 4L * i) - dot)));
            }
        }
    }
}
