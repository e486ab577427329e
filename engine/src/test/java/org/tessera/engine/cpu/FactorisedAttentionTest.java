package org.tessera.engine.cpu;

import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.tessera.engine.backend.AttentionMask;
import org.tessera.engine.parallel.WorkerPool;
import org.tessera.engine.random.RandomStream;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Tensor;

/**
 * Latte's factorised attention (issue 14): attention among the tokens of one frame, then among the
 * frames at one position, equals full attention over the whole clip's tokens under the matching
 * block masks — 0 between tokens of the same frame (then: of the same position), −∞ elsewhere.
 * So the spatial and temporal blocks are full 3-D attention with most pairs left out, which is
 * what makes them cheaper (docs/benchmarks.md, "factorised against full 3-D attention").
 */
class FactorisedAttentionTest {
    private static final int HEADS = 2;
    private static final int FRAMES = 3;
    private static final int TOKENS = 5; // per frame; the clip's tokens are frame-major, n = f·TOKENS + t
    private static final int DIM = 8;

    /** Attention within groups of the clip's tokens: a group is tokens start, start + step, … (count of them). */
    private static Tensor grouped(VectorAttention kernel, Tensor x, int groups, int count, boolean frames) {
        Tensor out = Tensor.zeros(DType.F32, 1, HEADS, FRAMES * TOKENS, DIM);
        for (int g = 0; g < groups; g++) {
            Tensor part = frames
                    ? x.slice(2, g * TOKENS, (g + 1) * TOKENS) // frame g's tokens
                    : x.slice(2, g, FRAMES * TOKENS, TOKENS); // position g in every frame
            Tensor in = part.contiguous();
            Tensor o = Tensor.zeros(DType.F32, 1, HEADS, count, DIM);
            kernel.attention(in, in, in, o, AttentionMask.NONE);
            (frames ? out.slice(2, g * TOKENS, (g + 1) * TOKENS) : out.slice(2, g, FRAMES * TOKENS, TOKENS))
                    .copyFrom(o);
        }
        return out;
    }

    /** Full attention over all tokens, with pairs outside a group masked out. */
    private static Tensor masked(VectorAttention kernel, Tensor x, boolean frames) {
        int n = FRAMES * TOKENS;
        Tensor bias = Tensor.zeros(DType.F32, n, n);
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                boolean together = frames ? i / TOKENS == j / TOKENS : i % TOKENS == j % TOKENS;
                bias.setFloat(together ? 0f : Float.NEGATIVE_INFINITY, i, j);
            }
        }
        Tensor out = Tensor.zeros(DType.F32, 1, HEADS, n, DIM);
        kernel.attention(x, x, x, out, new AttentionMask.Additive(bias));
        return out;
    }

    @Test
    void spatialThenTemporalIsFullAttentionUnderTheMatchingBlockMasks() {
        try (WorkerPool pool = new WorkerPool(2)) {
            VectorAttention kernel = new VectorAttention(pool);
            Tensor x = Tensor.zeros(DType.F32, 1, HEADS, FRAMES * TOKENS, DIM);
            new RandomStream(14, 0).fillNormal(x, pool);

            Tensor spatial = grouped(kernel, x, FRAMES, TOKENS, true);
            Tensor temporal = grouped(kernel, spatial, TOKENS, FRAMES, false);
            Tensor spatialMasked = masked(kernel, x, true);
            Tensor temporalMasked = masked(kernel, spatialMasked, false);

            assertClose("spatial", spatial, spatialMasked);
            assertClose("spatial then temporal", temporal, temporalMasked);
            // and the masks matter: unmasked full attention is something else
            Tensor full = Tensor.zeros(DType.F32, 1, HEADS, FRAMES * TOKENS, DIM);
            kernel.attention(x, x, x, full, AttentionMask.NONE);
            assertTrue(maxAbs(full, spatial) > 1e-2, "full attention differs from the per-frame one");
        }
    }

    private static double maxAbs(Tensor a, Tensor b) {
        float[] x = a.toFloatArray();
        float[] y = b.toFloatArray();
        double worst = 0;
        for (int i = 0; i < x.length; i++) {
            worst = Math.max(worst, Math.abs(x[i] - y[i]));
        }
        return worst;
    }

    private static void assertClose(String what, Tensor expected, Tensor actual) {
        double worst = maxAbs(expected, actual);
        assertTrue(worst <= 1e-5, what + ": max |factorised − masked full| = " + worst);
    }
}
