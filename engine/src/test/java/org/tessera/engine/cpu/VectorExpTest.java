package org.tessera.engine.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;

class VectorExpTest {
    private static float[] inputs() {
        float[] x = new float[4096 + 3];
        for (int i = 0; i < x.length; i++) {
            x[i] = -95f + 190f * i / x.length; // covers underflow, the whole range and overflow
        }
        x[0] = Float.NEGATIVE_INFINITY;
        x[1] = Float.NaN;
        x[2] = 0f;
        return x;
    }

    private static float[] vectorExp(float[] x) {
        float[] out = new float[x.length];
        int l = VectorMath.L;
        int i = 0;
        for (; i + l <= x.length; i += l) {
            VectorExp.exp(FloatVector.fromArray(VectorMath.S, x, i)).intoArray(out, i);
        }
        for (; i < x.length; i++) {
            out[i] = VectorExp.exp(x[i]);
        }
        return out;
    }

    @Test
    void accurateAgainstMathExpAndExactAtTheEdges() {
        float[] x = inputs();
        float[] y = vectorExp(x);
        assertEquals(0f, y[0]);
        assertTrue(Float.isNaN(y[1]));
        assertEquals(1f, y[2]);
        for (int i = 3; i < x.length; i++) {
            double e = Math.exp(x[i]);
            if (x[i] < -87.3365f) {
                assertEquals(0f, y[i], "x = " + x[i]);
            } else if (x[i] > 88.7228f) {
                assertEquals(Float.POSITIVE_INFINITY, y[i], "x = " + x[i]);
            } else {
                assertEquals(e, y[i], 3e-7 * e, "x = " + x[i]);
            }
        }
    }

    @Test
    void nonPositiveVariantMatchesExpBitForBit() {
        float[] x = inputs();
        for (int i = 0; i < x.length; i++) {
            x[i] = x[i] > 0 ? -x[i] : x[i]; // keeps −∞, NaN and 0; folds the rest onto [−95, 0]
        }
        x[3] = -0f;
        x[4] = VectorExp.MIN_X;
        x[5] = Math.nextDown(VectorExp.MIN_X);
        x[6] = -Float.MIN_VALUE;
        float[] expected = vectorExp(x);
        int l = VectorMath.L;
        for (int i = 0; i + l <= x.length; i += l) {
            float[] got = new float[l];
            VectorExp.expNonPositive(FloatVector.fromArray(VectorMath.S, x, i)).intoArray(got, 0);
            for (int j = 0; j < l; j++) {
                assertEquals(Float.floatToIntBits(expected[i + j]), Float.floatToIntBits(got[j]), "x = " + x[i + j]);
            }
        }
    }

    @Test
    void vectorBodyAndScalarTailAgreeBitForBit() {
        float[] x = inputs();
        float[] v = vectorExp(x);
        for (int i = 0; i < x.length; i++) {
            assertEquals(Float.floatToIntBits(VectorExp.exp(x[i])), Float.floatToIntBits(v[i]), "x = " + x[i]);
        }
    }

    @Test
    void sameBitsBeforeAndAfterTheJitCompilesIt() {
        float[] x = inputs();
        float[] first = vectorExp(x);
        for (int k = 0; k < 20_000; k++) {
            vectorExp(x);
        }
        float[] later = vectorExp(x);
        for (int i = 0; i < x.length; i++) {
            assertEquals(Float.floatToIntBits(first[i]), Float.floatToIntBits(later[i]), "x = " + x[i]);
        }
    }
}
