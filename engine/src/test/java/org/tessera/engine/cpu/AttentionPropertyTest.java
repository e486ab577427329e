package org.tessera.engine.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.tessera.engine.backend.AttentionMask;
import org.tessera.engine.backend.AttentionOps;
import org.tessera.engine.parallel.WorkerPool;
import org.tessera.engine.random.RandomStream;
import org.tessera.engine.reference.ScalarAttention;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.ShapeMismatchException;
import org.tessera.engine.tensor.Tensor;

/** {@link VectorAttention} against {@link ScalarAttention} over odd shapes, strided views and masks. */
class AttentionPropertyTest {
    private static final float NEG_INF = Float.NEGATIVE_INFINITY;

    private static WorkerPool one;
    private static WorkerPool three;
    private static final AttentionOps REFERENCE = new ScalarAttention();

    @BeforeAll
    static void pools() {
        one = new WorkerPool(1);
        three = new WorkerPool(3);
    }

    @AfterAll
    static void close() {
        one.close();
        three.close();
    }

    private static long seed = 1;

    private static Tensor normal(int... shape) {
        Tensor t = Tensor.zeros(DType.F32, shape);
        new RandomStream(42, seed++).fillNormal(t, one);
        return t;
    }

    /** Runs the reference once and the vector kernel on 1 and 3 threads; compares element-wise. */
    private static void check(String what, Tensor q, Tensor k, Tensor v, AttentionMask mask, float scale) {
        int[] shape = q.shape();
        Tensor expected = Tensor.zeros(DType.F32, shape);
        REFERENCE.attention(q, k, v, expected, mask, scale);
        for (WorkerPool pool : new WorkerPool[] {one, three}) {
            Tensor out = Tensor.zeros(DType.F32, shape);
            new VectorAttention(pool).attention(q, k, v, out, mask, scale);
            assertClose(what + " on " + pool.threads() + " threads", expected, out);
        }
    }

    private static void check(String what, Tensor q, Tensor k, Tensor v, AttentionMask mask) {
        check(what, q, k, v, mask, (float) (1 / Math.sqrt(q.size(-1))));
    }

    private static void assertClose(String what, Tensor expected, Tensor actual) {
        float[] e = expected.toFloatArray();
        float[] a = actual.toFloatArray();
        for (int i = 0; i < e.length; i++) {
            float tol = 5e-5f + 1e-4f * Math.abs(e[i]);
            if (!(Math.abs(e[i] - a[i]) <= tol)) {
                throw new AssertionError(what + ": element " + i + " expected " + e[i] + " but was " + a[i]);
            }
        }
    }

    @Test
    void selfAttentionOverOddTokenCountsAndHeadDims() {
        for (int n : new int[] {1, 7, 17, 33, 100, 300}) {
            for (int d : new int[] {8, 17, 64, 72}) {
                int batch = n >= 100 ? 1 : 2;
                check(
                        "n=" + n + " d=" + d,
                        normal(batch, 2, n, d),
                        normal(batch, 2, n, d),
                        normal(batch, 2, n, d),
                        AttentionMask.NONE);
            }
        }
    }

    /** 16 (batch, head) pairs: on 3 threads each task takes whole pairs (≥ 4 per thread), not panels. */
    @Test
    void manyHeadsRunAsWholePairs() {
        check("16 pairs", normal(2, 8, 33, 17), normal(2, 8, 47, 17), normal(2, 8, 47, 17), AttentionMask.NONE);
        Tensor bias = normal(2, 1, 33, 47); // additive, broadcast over heads
        check(
                "16 pairs, additive mask",
                normal(2, 8, 33, 17),
                normal(2, 8, 47, 17),
                normal(2, 8, 47, 17),
                new AttentionMask.Additive(bias));
    }

    @Test
    void crossAttentionWithDifferentQueryAndKeyCounts() {
        int[][] shapes = {{7, 300}, {100, 33}, {300, 1}, {1, 17}, {33, 241}};
        for (int[] s : shapes) {
            int d = 17;
            check(
                    "nq=" + s[0] + " nk=" + s[1],
                    normal(2, 3, s[0], d),
                    normal(2, 3, s[1], d),
                    normal(2, 3, s[1], d),
                    AttentionMask.NONE,
                    0.37f);
        }
    }

    @Test
    void stridedViewsSlicedFromAFusedQkvProjection() {
        for (int n : new int[] {7, 100}) {
            for (int d : new int[] {17, 72}) {
                int heads = 3;
                // [B, N, 3, H, d] → q, k, v [B, N, H, d] → permuted to [B, H, N, d]: no dim is contiguous but d.
                Tensor qkv = normal(2, n, 3, heads, d);
                Tensor q = qkv.select(2, 0).permute(0, 2, 1, 3);
                Tensor k = qkv.select(2, 1).permute(0, 2, 1, 3);
                Tensor v = qkv.select(2, 2).permute(0, 2, 1, 3);
                check("fused qkv n=" + n + " d=" + d, q, k, v, AttentionMask.NONE);
            }
        }
    }

    @Test
    void transposedHeadDimAndBroadcastKeys() {
        // K read with a non-unit stride along d, V broadcast over heads (stride 0).
        Tensor q = normal(1, 4, 33, 17);
        Tensor k = normal(1, 4, 17, 33).transpose(2, 3);
        Tensor v = normal(1, 1, 33, 17).expand(1, 4, 33, 17);
        check("transposed k, expanded v", q, k, v, AttentionMask.NONE);
    }

    @Test
    void outputMayBeAStridedViewWithContiguousRows() {
        Tensor q = normal(2, 3, 17, 8);
        Tensor k = normal(2, 3, 17, 8);
        Tensor v = normal(2, 3, 17, 8);
        Tensor expected = Tensor.zeros(DType.F32, 2, 3, 17, 8);
        REFERENCE.attention(q, k, v, expected, AttentionMask.NONE);
        // out as [B, N, H, d] storage seen as [B, H, N, d], as a fused output projection wants it.
        Tensor out = Tensor.zeros(DType.F32, 2, 17, 3, 8).permute(0, 2, 1, 3);
        new VectorAttention(three).attention(q, k, v, out, AttentionMask.NONE);
        assertClose("strided out", expected, out);
    }

    @Test
    void additiveMaskOfRankTwoWithAFullyMaskedRow() {
        int nq = 33;
        int nk = 300;
        Tensor bias = normal(nq, nk);
        for (int j = 0; j < nk; j++) {
            bias.setFloat(NEG_INF, 5, j); // query 5 sees nothing
            if (j % 3 == 0) {
                bias.setFloat(NEG_INF, 6, j);
            }
        }
        for (int j = 0; j < 250; j++) {
            bias.setFloat(NEG_INF, 7, j); // query 7 sees only the last key block
        }
        Tensor q = normal(2, 2, nq, 64);
        Tensor k = normal(2, 2, nk, 64);
        Tensor v = normal(2, 2, nk, 64);
        check("rank-2 mask", q, k, v, new AttentionMask.Additive(bias));
        Tensor out = Tensor.zeros(DType.F32, 2, 2, nq, 64);
        new VectorAttention(three).attention(q, k, v, out, new AttentionMask.Additive(bias));
        for (int c = 0; c < 64; c++) {
            assertEquals(0f, out.getFloat(1, 1, 5, c), "a fully masked query outputs 0");
        }
    }

    @Test
    void additiveMasksOfRankFour() {
        int nq = 17;
        int nk = 100;
        Tensor q = normal(2, 3, nq, 72);
        Tensor k = normal(2, 3, nk, 72);
        Tensor v = normal(2, 3, nk, 72);
        check("full rank-4 mask", q, k, v, new AttentionMask.Additive(normal(2, 3, nq, nk)));
        // A key-padding mask [B, 1, 1, Nk]: the bias depends on the key only.
        Tensor padding = Tensor.zeros(DType.F32, 2, 1, 1, nk);
        for (int j = 90; j < nk; j++) {
            padding.setFloat(NEG_INF, 1, 0, 0, j);
        }
        check("key-padding mask", q, k, v, new AttentionMask.Additive(padding));
        // Broadcast over batch and keys: [1, H, Nq, 1].
        check("per-query bias", q, k, v, new AttentionMask.Additive(normal(1, 3, nq, 1)));
        // A transposed view as the bias.
        check(
                "transposed bias",
                q,
                k,
                v,
                new AttentionMask.Additive(normal(nk, nq).t()));
    }

    @Test
    void segmentMasksForPackedSequences() {
        int n = 520;
        long[] ids = new long[2 * n];
        for (int j = 0; j < n; j++) {
            ids[j] = j < 260 ? 0 : j < 500 ? 1 : 2;
            ids[n + j] = j < 7 ? 3 : 4;
        }
        Tensor segments = Tensor.ofLongs(java.lang.foreign.Arena.ofAuto(), ids, 2, n);
        check(
                "packed self-attention",
                normal(2, 2, n, 8),
                normal(2, 2, n, 8),
                normal(2, 2, n, 8),
                AttentionMask.Segments.of(segments));
    }

    @Test
    void segmentMaskWithAQueryWhoseSegmentHasNoKey() {
        int nq = 40;
        int nk = 33;
        int[][] query = new int[1][nq];
        int[][] key = new int[1][nk];
        for (int i = 0; i < nq; i++) {
            query[0][i] = i < 20 ? 0 : i == 20 ? 9 : 1; // segment 9 has no key
        }
        for (int j = 0; j < nk; j++) {
            key[0][j] = j < 11 ? 0 : 1;
        }
        AttentionMask mask = new AttentionMask.Segments(query, key);
        Tensor q = normal(1, 2, nq, 17);
        Tensor k = normal(1, 2, nk, 17);
        Tensor v = normal(1, 2, nk, 17);
        check("segment without keys", q, k, v, mask);
        Tensor out = Tensor.zeros(DType.F32, 1, 2, nq, 17);
        new VectorAttention(one).attention(q, k, v, out, mask);
        for (int c = 0; c < 17; c++) {
            assertEquals(0f, out.getFloat(0, 1, 20, c), "a query whose segment has no key outputs 0");
        }
        // A panel whose every query is in a key-less segment: all key blocks are skipped.
        int[][] none = new int[1][nq];
        java.util.Arrays.fill(none[0], 7);
        check("no segment has keys", q, k, v, new AttentionMask.Segments(none, key));
    }

    @Test
    void noKeysGivesZeros() {
        Tensor out = normal(1, 2, 7, 8);
        new VectorAttention(three)
                .attention(
                        normal(1, 2, 7, 8),
                        Tensor.zeros(DType.F32, 1, 2, 0, 8),
                        Tensor.zeros(DType.F32, 1, 2, 0, 8),
                        out,
                        AttentionMask.NONE);
        for (float x : out.toFloatArray()) {
            assertEquals(0f, x);
        }
    }

    @Test
    void repeatedCallsReuseBuffersAcrossShapes() {
        VectorAttention ops = new VectorAttention(three);
        Tensor q = normal(1, 2, 100, 72);
        Tensor expected = Tensor.zeros(DType.F32, 1, 2, 100, 72);
        REFERENCE.attention(q, q, q, expected, AttentionMask.NONE);
        Tensor small = normal(1, 1, 7, 8);
        for (int round = 0; round < 3; round++) {
            Tensor out = Tensor.zeros(DType.F32, 1, 2, 100, 72);
            ops.attention(q, q, q, out, AttentionMask.NONE);
            assertClose("round " + round, expected, out);
            ops.attention(small, small, small, Tensor.zeros(DType.F32, 1, 1, 7, 8), AttentionMask.NONE);
        }
    }

    @Test
    void badShapesThrowNamingTheOp() {
        VectorAttention ops = new VectorAttention(one);
        Tensor q = normal(1, 2, 7, 8);
        Tensor k = normal(1, 2, 9, 8);
        Tensor out = Tensor.zeros(DType.F32, 1, 2, 7, 8);
        assertNamesOp(() -> ops.attention(q, normal(1, 2, 9, 16), k, out, AttentionMask.NONE));
        assertNamesOp(() -> ops.attention(q, k, normal(1, 2, 8, 8), out, AttentionMask.NONE));
        assertNamesOp(() -> ops.attention(q.select(0, 0), k, k, out, AttentionMask.NONE));
        assertNamesOp(() -> ops.attention(q, k, k, Tensor.zeros(DType.F32, 1, 2, 9, 8), AttentionMask.NONE));
        // Output rows with a non-unit stride.
        assertNamesOp(
                () -> ops.attention(q, k, k, Tensor.zeros(DType.F32, 1, 2, 8, 7).transpose(2, 3), AttentionMask.NONE));
        assertNamesOp(() -> ops.attention(q, k, k, out, new AttentionMask.Additive(normal(7, 8))));
        assertNamesOp(() -> ops.attention(q, k, k, out, new AttentionMask.Segments(new int[1][7], new int[1][8])));
        assertNamesOp(() -> ops.attention(q, k, k, Tensor.zeros(DType.F64, 1, 2, 7, 8), AttentionMask.NONE));
    }

    private static void assertNamesOp(org.junit.jupiter.api.function.Executable call) {
        ShapeMismatchException e = assertThrows(ShapeMismatchException.class, call);
        assertTrue(e.getMessage().startsWith("attention"), e.getMessage());
    }
}
