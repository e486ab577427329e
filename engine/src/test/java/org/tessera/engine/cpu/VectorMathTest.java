package org.tessera.engine.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;
import org.tessera.engine.backend.Activation;

/** The FMA-only activations: accurate against the double definitions, and tails equal to the vector body. */
class VectorMathTest {
    /** The accuracy the elementwise and epilogue kernels promise: 1e−6 relative plus 1e−6 absolute. */
    private static final double REL = 1e-6;

    private static final double ABS = 1e-6;

    /** A dense sweep of [−lim, lim] plus the special values. */
    private static float[] sweep(float lim) {
        float[] x = new float[200_000 + 9];
        int n = 200_000;
        for (int i = 0; i < n; i++) {
            x[i] = -lim + 2 * lim * i / (n - 1);
        }
        float[] special = {0f, -0f, 1e-30f, -1e-30f, Float.MIN_VALUE, 1e4f, -1e4f, Float.MAX_VALUE, -Float.MAX_VALUE};
        System.arraycopy(special, 0, x, n, special.length);
        return x;
    }

    private static float[] vector(Activation act, float[] x) {
        float[] out = new float[x.length];
        int i = 0;
        for (; i + VectorMath.L <= x.length; i += VectorMath.L) {
            VectorMath.apply(act, FloatVector.fromArray(VectorMath.S, x, i)).intoArray(out, i);
        }
        for (; i < x.length; i++) {
            out[i] = VectorMath.apply(act, x[i]);
        }
        return out;
    }

    private static void assertAccurate(Activation act, float lim) {
        float[] x = sweep(lim);
        float[] y = vector(act, x);
        double worstRel = 0;
        for (int i = 0; i < x.length; i++) {
            double e = act.apply(x[i]);
            double err = Math.abs(y[i] - e);
            assertTrue(err <= ABS + REL * Math.abs(e), act + "(" + x[i] + ") = " + y[i] + ", expected " + e);
            if (Math.abs(e) > 1e-3) {
                worstRel = Math.max(worstRel, err / Math.abs(e));
            }
        }
        // Where the absolute term does not help: a few float ulps. GELU's worst case is x ≈ −3,
        // where the exponent 2u ≈ 7 carries two ulps of rounding into e^(−2u) sevenfold.
        assertTrue(worstRel < 1.5e-6, act + ": worst relative error " + worstRel);
    }

    @Test
    void geluMatchesTheTanhDefinition() {
        assertAccurate(Activation.GELU_TANH, 40f);
        assertAccurate(Activation.GELU_TANH, 4f);
    }

    @Test
    void siluMatchesTheLogisticDefinition() {
        assertAccurate(Activation.SILU, 120f);
        assertAccurate(Activation.SILU, 4f);
    }

    @Test
    void expIsAccurateOverItsRange() {
        float[] x = sweep(87f);
        for (int i = 0; i + VectorMath.L <= x.length; i += VectorMath.L) {
            float[] y = new float[VectorMath.L];
            VectorMath.exp(FloatVector.fromArray(VectorMath.S, x, i)).intoArray(y, 0);
            for (int l = 0; l < y.length; l++) {
                if (x[i + l] > 88) {
                    assertEquals(Float.POSITIVE_INFINITY, y[l], "exp(" + x[i + l] + ")");
                    continue;
                }
                double e = Math.exp(Math.max(-87, x[i + l])); // below −87 it counts as −87
                assertEquals(e, y[l], 3e-7 * e, "exp(" + x[i + l] + ")");
            }
        }
    }

    @Test
    void scalarTailsEqualTheVectorBodyBitForBit() {
        float[] x = sweep(30f);
        for (Activation act : new Activation[] {Activation.GELU_TANH, Activation.SILU}) {
            float[] v = vector(act, x);
            for (int i = 0; i < x.length; i++) {
                assertEquals(
                        Float.floatToIntBits(VectorMath.apply(act, x[i])),
                        Float.floatToIntBits(v[i]),
                        act + "(" + x[i] + ")");
            }
        }
    }

    @Test
    void theRowKernelIsTheSameFunctionBitForBit() {
        float[] x = sweep(30f);
        float[] bias = new float[x.length];
        for (int i = 0; i < bias.length; i++) {
            bias[i] = 0.25f * (i % 7) - 0.75f;
        }
        for (Activation act : new Activation[] {Activation.GELU_TANH, Activation.SILU}) {
            for (boolean withBias : new boolean[] {false, true}) {
                java.lang.foreign.MemorySegment in = java.lang.foreign.MemorySegment.ofArray(x.clone());
                java.lang.foreign.MemorySegment b = withBias ? java.lang.foreign.MemorySegment.ofArray(bias) : null;
                float[] out = new float[x.length];
                int done = VectorMath.gatedRow(
                        act, in, 0, b, 0, java.lang.foreign.MemorySegment.ofArray(out), 0, x.length);
                assertEquals(x.length / VectorMath.L * VectorMath.L, done);
                for (int i = 0; i < done; i++) {
                    float arg = withBias ? x[i] + bias[i] : x[i];
                    assertEquals(
                            Float.floatToIntBits(VectorMath.apply(act, arg)),
                            Float.floatToIntBits(out[i]),
                            act + "(" + arg + ")" + (withBias ? " with bias" : ""));
                }
            }
        }
    }

    @Test
    void specialValuesFollowTheDefinitions() {
        float[] x = new float[VectorMath.L];
        x[0] = Float.NaN;
        x[1] = Float.POSITIVE_INFINITY;
        x[2] = Float.NEGATIVE_INFINITY;
        float[] gelu = vector(Activation.GELU_TANH, x);
        float[] silu = vector(Activation.SILU, x);
        assertTrue(Float.isNaN(gelu[0]) && Float.isNaN(silu[0]));
        assertEquals(Float.POSITIVE_INFINITY, gelu[1]);
        assertEquals(Float.POSITIVE_INFINITY, silu[1]);
        // −∞ / (1 + e^∞) is NaN, as are the definitions ½x(1 + tanh u) and x / (1 + e^(−x)) there.
        assertTrue(Float.isNaN(gelu[2]) && Float.isNaN(silu[2]));
    }
}
