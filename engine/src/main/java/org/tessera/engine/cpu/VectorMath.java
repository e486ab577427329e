package org.tessera.engine.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;
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

    /** −2√(2/π) and −2√(2/π)·0.044715: −2u = x·(GELU_K1 + GELU_K3·x²). */
    private static final float GELU_K1 = -2f * Activation.SQRT_2_OVER_PI;
    private static final float GELU_K3 = -2f * Activation.SQRT_2_OVER_PI * Activation.GELU_CUBIC;

    private VectorMath() {}

    /**
     * The sum of the lanes by a fixed butterfly: lane i adds lane i xor k for k = L/2, …, 2, 1.
     * Not {@code reduceLanes(ADD)}: its compiled form adds in a tree and its interpreted form in
     * sequence, so the same row would sum to different floats before and after the JIT warms up,
     * and a seed would not reproduce an image. Every step here is an exact shuffle plus an IEEE
     * add, the same in every execution mode.
     */
    static float sum(FloatVector v) {
        // Unrolled over constant shuffles (L is a constant), so C2 keeps v in a register.
        if (L >= 16) {
            v = v.add(v.rearrange(XOR8));
        }
        if (L >= 8) {
            v = v.add(v.rearrange(XOR4));
        }
        if (L >= 4) {
            v = v.add(v.rearrange(XOR2));
        }
        if (L >= 2) {
            v = v.add(v.rearrange(XOR1));
        }
        return v.lane(0);
    }

    /** The same butterfly as {@link #sum(FloatVector)} over lanes stored in an array (length L). */
    static float sumLanes(float[] lanes) {
        float[] v = lanes;
        for (int k = L >> 1; k >= 1; k >>= 1) {
            for (int i = 0; i < k; i++) {
                v[i] = v[i] + v[i ^ k];
            }
        }
        return v[0];
    }

    private static final VectorShuffle<Float> XOR8 = xor(8);
    private static final VectorShuffle<Float> XOR4 = xor(4);
    private static final VectorShuffle<Float> XOR2 = xor(2);
    private static final VectorShuffle<Float> XOR1 = xor(1);

    /** Lane i ↦ lane i xor k (kept in range for narrower species, where it is unused). */
    private static VectorShuffle<Float> xor(int k) {
        return VectorShuffle.fromOp(S, lane -> (lane ^ k) & (L - 1));
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
