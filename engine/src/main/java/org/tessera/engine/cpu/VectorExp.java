package org.tessera.engine.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * e^x for float vectors from IEEE add, multiply and fused multiply-add only.
 *
 * <p>Why not {@code lanewise(VectorOperators.EXP)}: the JIT computes it with Intel's SVML while
 * the interpreter and C1 fall back to {@code StrictMath}, and the two differ in the last bit on
 * about 1% of inputs. A softmax or GELU through it would make the same seed give slightly
 * different images before and after the JIT warms up. Basic IEEE operations are bit-identical in
 * every execution mode (and on a GPU that follows the same recipe).
 *
 * <p>Method (Cody–Waite, as in Cephes' expf): x = n·ln2 + r with n = round(x·log₂e) and
 * |r| ≤ ln2/2; e^r by a degree-6 polynomial (max relative error ~1.2e-7 on that range); then
 * multiply by 2ⁿ built directly in the exponent bits. Inputs below −87.3 give 0 (so masked
 * logits of −∞ vanish exactly), above 88.7 give +∞, NaN stays NaN.
 */
final class VectorExp {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    static final float LOG2E = 1.44269504088896341f;
    /** ln2 split in a high part exact in float and a low correction. */
    static final float LN2_HI = 0.693359375f;

    static final float LN2_LO = -2.12194440e-4f;
    /** 1.5·2²³: adding it rounds a float of magnitude < 2²² to the nearest integer. */
    static final float ROUND = 12582912f;

    static final float MIN_X = -87.33654f;
    static final float MAX_X = 88.72283f;

    // Broadcast once: FloatVector.fma has no (vector, scalar) overload.
    static final FloatVector NEG_LN2_HI = FloatVector.broadcast(S, -LN2_HI);
    static final FloatVector NEG_LN2_LO = FloatVector.broadcast(S, -LN2_LO);
    static final FloatVector C3 = FloatVector.broadcast(S, 8.3334519073e-3f);
    static final FloatVector C4 = FloatVector.broadcast(S, 4.1665795894e-2f);
    static final FloatVector C5 = FloatVector.broadcast(S, 1.6666665459e-1f);
    static final FloatVector C6 = FloatVector.broadcast(S, 5.0000001201e-1f);

    private VectorExp() {}

    static FloatVector exp(FloatVector x) {
        VectorMask<Float> under = x.compare(VectorOperators.LT, MIN_X);
        VectorMask<Float> over = x.compare(VectorOperators.GT, MAX_X);
        FloatVector xc = x.max(MIN_X).min(MAX_X);
        FloatVector n = xc.fma(LOG2E, ROUND).sub(ROUND); // round(x·log₂e)
        FloatVector r = n.fma(NEG_LN2_HI, xc); // x − n·ln2, in two steps for accuracy
        r = n.fma(NEG_LN2_LO, r);
        FloatVector p = r.fma(1.9875691500e-4f, 1.3981999507e-3f);
        p = p.fma(r, C3);
        p = p.fma(r, C4);
        p = p.fma(r, C5);
        p = p.fma(r, C6);
        FloatVector y = p.mul(r).fma(r, r).add(1f); // 1 + r + r²·p(r)
        // Near the top of the range n reaches 128, one past the largest exponent: use 2·2¹²⁷.
        VectorMask<Float> top = n.compare(VectorOperators.GT, 127f);
        y = y.blend(y.mul(2f), top);
        n = n.blend(n.sub(1f), top);
        IntVector bits = (IntVector) n.convert(VectorOperators.F2I, 0);
        FloatVector scale = bits.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
        FloatVector result = y.mul(scale);
        result = result.blend(0f, under);
        result = result.blend(Float.POSITIVE_INFINITY, over);
        return result.blend(x, x.test(VectorOperators.IS_NAN));
    }

    /**
     * {@link #exp(FloatVector)} for x ≤ 0, −∞ or NaN, bit for bit, without the overflow handling
     * that cannot trigger there (no clamp at the top, no 2¹²⁸ split, no +∞ blend): a softmax
     * shifted by its maximum only ever takes the exp of such values, and it is a sixth of
     * attention's time. Undefined for x > 0.
     */
    static FloatVector expNonPositive(FloatVector x) {
        VectorMask<Float> under = x.compare(VectorOperators.LT, MIN_X);
        FloatVector xc = x.max(MIN_X);
        FloatVector n = xc.fma(LOG2E, ROUND).sub(ROUND);
        FloatVector r = n.fma(NEG_LN2_HI, xc);
        r = n.fma(NEG_LN2_LO, r);
        FloatVector p = r.fma(1.9875691500e-4f, 1.3981999507e-3f);
        p = p.fma(r, C3);
        p = p.fma(r, C4);
        p = p.fma(r, C5);
        p = p.fma(r, C6);
        FloatVector y = p.mul(r).fma(r, r).add(1f);
        IntVector bits = (IntVector) n.convert(VectorOperators.F2I, 0);
        FloatVector scale = bits.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
        return y.mul(scale).blend(0f, under).blend(x, x.test(VectorOperators.IS_NAN));
    }

    /**
     * {@code a[i] = e^(a[i])} for i in [0, n), n a multiple of the vector length: {@link #exp}'s
     * recipe, bit for bit, with the loop here so that no vector crosses a method call. A vector
     * passed to a method that C2 does not inline is boxed, and whether C2 inlines
     * {@code exp(FloatVector)} (267 bytes) depends on how hot its call site looked when the caller
     * compiled: in about one JVM in ten the attention softmax boxed every vector that way.
     */
    static void expInPlace(float[] a, int n) {
        for (int i = 0; i < n; i += S.length()) {
            FloatVector x = FloatVector.fromArray(S, a, i);
            VectorMask<Float> under = x.compare(VectorOperators.LT, MIN_X);
            VectorMask<Float> over = x.compare(VectorOperators.GT, MAX_X);
            FloatVector xc = x.max(MIN_X).min(MAX_X);
            FloatVector k = xc.fma(LOG2E, ROUND).sub(ROUND);
            FloatVector r = k.fma(NEG_LN2_HI, xc);
            r = k.fma(NEG_LN2_LO, r);
            FloatVector p = r.fma(1.9875691500e-4f, 1.3981999507e-3f);
            p = p.fma(r, C3);
            p = p.fma(r, C4);
            p = p.fma(r, C5);
            p = p.fma(r, C6);
            FloatVector y = p.mul(r).fma(r, r).add(1f);
            VectorMask<Float> top = k.compare(VectorOperators.GT, 127f);
            y = y.blend(y.mul(2f), top);
            k = k.blend(k.sub(1f), top);
            IntVector bits = (IntVector) k.convert(VectorOperators.F2I, 0);
            FloatVector scale = bits.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
            FloatVector result = y.mul(scale).blend(0f, under).blend(Float.POSITIVE_INFINITY, over);
            result.blend(x, x.test(VectorOperators.IS_NAN)).intoArray(a, i);
        }
    }

    /**
     * The softmax's exps over a panel of columns: for each of the {@code width} columns c (a
     * multiple of the vector length) and each of {@code rows} rows j,
     * {@code p[j·width + c] = e^(p[j·width + c] − shift[c])}, and {@code rowSum[c] = Σ_j} of them;
     * {@link #expNonPositive}'s recipe, bit for bit, with the loops here (see {@link #expInPlace}).
     */
    static void expShiftedColumns(float[] p, int rows, int width, float[] shift, float[] rowSum) {
        for (int half = 0; half < width; half += S.length()) {
            FloatVector z = FloatVector.fromArray(S, shift, half);
            FloatVector acc = FloatVector.zero(S);
            for (int j = 0; j < rows; j++) {
                int at = j * width + half;
                // The logits are ≤ their running maximum: the shifted values are ≤ 0 (or −∞ when masked).
                FloatVector x = FloatVector.fromArray(S, p, at).sub(z);
                VectorMask<Float> under = x.compare(VectorOperators.LT, MIN_X);
                FloatVector xc = x.max(MIN_X);
                FloatVector k = xc.fma(LOG2E, ROUND).sub(ROUND);
                FloatVector r = k.fma(NEG_LN2_HI, xc);
                r = k.fma(NEG_LN2_LO, r);
                FloatVector q = r.fma(1.9875691500e-4f, 1.3981999507e-3f);
                q = q.fma(r, C3);
                q = q.fma(r, C4);
                q = q.fma(r, C5);
                q = q.fma(r, C6);
                FloatVector y = q.mul(r).fma(r, r).add(1f);
                IntVector bits = (IntVector) k.convert(VectorOperators.F2I, 0);
                FloatVector scale =
                        bits.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
                FloatVector e = y.mul(scale).blend(0f, under).blend(x, x.test(VectorOperators.IS_NAN));
                e.intoArray(p, at);
                acc = acc.add(e);
            }
            acc.intoArray(rowSum, half);
        }
    }

    /** The same recipe for one float, for loop tails, so tails agree with the vector body bit for bit. */
    static float exp(float x) {
        if (Float.isNaN(x)) {
            return x;
        }
        if (x < MIN_X) {
            return 0f;
        }
        if (x > MAX_X) {
            return Float.POSITIVE_INFINITY;
        }
        float n = Math.fma(x, LOG2E, ROUND) - ROUND;
        float r = Math.fma(n, -LN2_HI, x);
        r = Math.fma(n, -LN2_LO, r);
        float p = Math.fma(r, 1.9875691500e-4f, 1.3981999507e-3f);
        p = Math.fma(p, r, 8.3334519073e-3f);
        p = Math.fma(p, r, 4.1665795894e-2f);
        p = Math.fma(p, r, 1.6666665459e-1f);
        p = Math.fma(p, r, 5.0000001201e-1f);
        float y = Math.fma(p * r, r, r) + 1f;
        if (n > 127f) {
            y *= 2f;
            n -= 1f;
        }
        return y * Float.intBitsToFloat(((int) n + 127) << 23);
    }
}
