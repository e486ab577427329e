package org.tessera.engine.cpu;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import org.tessera.engine.backend.Activation;

/**
 * Vectorised activations shared by the GEMM epilogue and the elementwise kernels.
 *
 * <p>Both activations are a logistic function, computed with our own {@link #exp} (a few FMAs)
 * rather than the Vector API's TANH and EXP, which run several times slower:
 * <pre>
 *   SiLU(x)      = x·σ(x)  = x / (1 + e^(−x))
 *   GELU-tanh(x) = ½x(1 + tanh u) = x·σ(2u) = x / (1 + e^(−2u)),  u = √(2/π)(x + 0.044715x³)
 * </pre>
 * using ½(1 + tanh u) = σ(2u). The σ form has no cancellation (unlike 1 − 2/(1 + e^(2u)) near
 * u = 0), so the relative error stays that of exp plus a division: a few ulps.
 *
 * <p>Only IEEE add, multiply, FMA, divide, compares and bit moves are used, so results are the
 * same bits in the interpreter, C1 and C2 (the Vector API's EXP and TANH use SVML once
 * compiled and StrictMath before, which differ in the last bit), and the scalar versions repeat
 * the vector recipe so that loop tails match the vector body.
 */
final class VectorMath {
    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    static final int L = S.length();
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();

    /** −2√(2/π) and −2√(2/π)·0.044715: −2u = x·(GELU_K1 + GELU_K3·x²). */
    private static final float GELU_K1 = -2f * Activation.SQRT_2_OVER_PI;

    private static final float GELU_K3 = -2f * Activation.SQRT_2_OVER_PI * Activation.GELU_CUBIC;

    private VectorMath() {}

    /**
     * The sum of a vector's lanes, stored in {@code lanes} (length L), by a fixed butterfly: lane i
     * adds lane i xor k for k = L/2, …, 2, 1. Not {@code reduceLanes(ADD)}: its compiled form adds
     * in a tree and its interpreted form in sequence, so the same row would sum to different
     * floats before and after the JIT warms up, and a seed would not reproduce an image. Through
     * an array rather than taking the vector: a vector passed to a method that C2 does not inline
     * is boxed, and whether it inlines depends on what was compiled first.
     */
    static float sumLanes(float[] lanes) {
        float[] v = lanes;
        for (int k = L >> 1; k >= 1; k >>= 1) {
            for (int i = 0; i < k; i++) {
                v[i] = v[i] + v[i ^ k];
            }
        }
        return v[0];
    }

    /** e^x, deterministic in every JIT mode; see {@link VectorExp}. */
    static FloatVector exp(FloatVector x) {
        return VectorExp.exp(x);
    }

    /**
     * GELU-tanh as x / (1 + e^(−2u)), u = √(2/π)(x + 0.044715x³). Error within 1e−6·|y| + 1e−6
     * of the double definition; the worst relative error, about 1e−6, is near x ≈ −3, where the
     * exponent 2u ≈ 7 multiplies its own rounding (a few ulps) into e^(−2u).
     */
    static FloatVector gelu(FloatVector x) {
        FloatVector minus2u = x.mul(x).fma(GELU_K3, GELU_K1).mul(x);
        return x.div(exp(minus2u).add(1f));
    }

    /** SiLU: x / (1 + e^(−x)), within 1e−6·|y| + 1e−6 of the double definition. */
    static FloatVector silu(FloatVector x) {
        return x.div(exp(x.neg()).add(1f));
    }

    /**
     * {@code out[j] = act(x[j] + bias[j])} for j &lt; n over unit-stride rows (bias may be null),
     * for GELU-tanh or SiLU, bit for bit {@link #gelu(FloatVector)} / {@link #silu(FloatVector)}.
     *
     * <p>Why a row method with the exp written out: a FloatVector passed to or returned from a
     * method that C2 does not inline is boxed, and whether {@code gelu(v)} is inlined depends on
     * what else the process ran first (once compiled standalone it is too big to inline). With the
     * whole computation here, no vector crosses a call; the scalar tail is the caller's.
     * Both activations are x / (1 + e^z), with z = −2u for GELU and −x for SiLU.
     *
     * @return how many elements were done (a multiple of the vector length)
     */
    static int gatedRow(
            Activation act,
            MemorySegment x,
            long xByte,
            MemorySegment bias,
            long biasByte,
            MemorySegment out,
            long outByte,
            int n) {
        boolean gelu = act == Activation.GELU_TANH;
        int bound = S.loopBound(n);
        for (int j = 0; j < bound; j += L) {
            FloatVector v = FloatVector.fromMemorySegment(S, x, xByte + 4L * j, NATIVE);
            if (bias != null) {
                v = v.add(FloatVector.fromMemorySegment(S, bias, biasByte + 4L * j, NATIVE));
            }
            FloatVector z = gelu ? v.mul(v).fma(GELU_K3, GELU_K1).mul(v) : v.neg();
            // VectorExp.exp(z), written out (see above).
            VectorMask<Float> under = z.compare(VectorOperators.LT, VectorExp.MIN_X);
            VectorMask<Float> over = z.compare(VectorOperators.GT, VectorExp.MAX_X);
            FloatVector zc = z.max(VectorExp.MIN_X).min(VectorExp.MAX_X);
            FloatVector k = zc.fma(VectorExp.LOG2E, VectorExp.ROUND).sub(VectorExp.ROUND);
            FloatVector r = k.fma(VectorExp.NEG_LN2_HI, zc);
            r = k.fma(VectorExp.NEG_LN2_LO, r);
            FloatVector p = r.fma(1.9875691500e-4f, 1.3981999507e-3f);
            p = p.fma(r, VectorExp.C3);
            p = p.fma(r, VectorExp.C4);
            p = p.fma(r, VectorExp.C5);
            p = p.fma(r, VectorExp.C6);
            FloatVector y = p.mul(r).fma(r, r).add(1f);
            VectorMask<Float> top = k.compare(VectorOperators.GT, 127f);
            y = y.blend(y.mul(2f), top);
            k = k.blend(k.sub(1f), top);
            IntVector bits = (IntVector) k.convert(VectorOperators.F2I, 0);
            FloatVector e =
                    y.mul(bits.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats());
            e = e.blend(0f, under).blend(Float.POSITIVE_INFINITY, over).blend(z, z.test(VectorOperators.IS_NAN));
            v.div(e.add(1f)).intoMemorySegment(out, outByte + 4L * j, NATIVE);
        }
        return bound;
    }

    /** A constant in every lane (the JIT hoists it out of loops). */
    private static FloatVector c(float v) {
        return FloatVector.broadcast(S, v);
    }

    static FloatVector apply(Activation a, FloatVector x) {
        return switch (a) {
            case NONE -> x;
            case GELU_TANH -> gelu(x);
            case SILU -> silu(x);
        };
    }

    /** The scalar twin of {@link #exp(FloatVector)}, bit for bit. */
    static float exp(float x) {
        return VectorExp.exp(x);
    }

    /** {@link #gelu(FloatVector)} for one float, bit for bit. */
    static float gelu(float x) {
        float minus2u = Math.fma(x * x, GELU_K3, GELU_K1) * x;
        return x / (exp(minus2u) + 1f);
    }

    /** {@link #silu(FloatVector)} for one float, bit for bit. */
    static float silu(float x) {
        return x / (exp(-x) + 1f);
    }

    static float apply(Activation a, float x) {
        return switch (a) {
            case NONE -> x;
            case GELU_TANH -> gelu(x);
            case SILU -> silu(x);
        };
    }
}
