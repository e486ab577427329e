package org.tessera.engine.reference;

import org.tessera.engine.backend.AttentionMask;
import org.tessera.engine.backend.AttentionOps;
import org.tessera.engine.backend.OpChecks;
import org.tessera.engine.tensor.Tensor;

/**
 * Attention the textbook way, accumulating in double: per batch, head and query row it
 * materialises the logits {@code s[j] = scale·q·k_j + mask}, takes the softmax and sums the
 * weighted values. The reference every attention kernel is tested against.
 *
 * <p>A query that sees no key (every logit {@code -inf}) gets a zero output rather than the
 * NaN of 0/0.
 */
public final class ScalarAttention implements AttentionOps {

    @Override
    public void attention(Tensor q, Tensor k, Tensor v, Tensor out, AttentionMask mask, float scale) {
        OpChecks.attention(q, k, v, out);
        int batch = q.size(0);
        int heads = q.size(1);
        int nq = q.size(2);
        int nk = k.size(2);
        int d = q.size(3);
        OpChecks.mask(mask, batch, heads, nq, nk);
        Tensor bias = mask instanceof AttentionMask.Additive a ? a.bias().expand(batch, heads, nq, nk) : null;
        double[] logits = new double[nk];
        for (int b = 0; b < batch; b++) {
            for (int h = 0; h < heads; h++) {
                // Row-major copies of this head's [tokens, d] matrices: q[i·d + c] = Q[b, h, i, c].
                float[] qh = q.select(0, b).select(0, h).toFloatArray();
                float[] kh = k.select(0, b).select(0, h).toFloatArray();
                float[] vh = v.select(0, b).select(0, h).toFloatArray();
                for (int i = 0; i < nq; i++) {
                    double max = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j < nk; j++) {
                        double dot = 0;
                        for (int c = 0; c < d; c++) {
                            dot += (double) qh[i * d + c] * kh[j * d + c];
                        }
                        double s = scale * dot;
                        if (bias != null) {
                            s += bias.getFloat(b, h, i, j);
                        } else if (mask instanceof AttentionMask.Segments seg && seg.query()[b][i] != seg.key()[b][j]) {
                            s = Double.NEGATIVE_INFINITY;
                        }
                        logits[j] = s;
                        max = Math.max(max, s);
                    }
                    // softmax(s)_j = exp(s_j − max) / Σ exp(s − max); a row without keys stays zero.
                    double sum = 0;
                    for (int j = 0; j < nk; j++) {
                        logits[j] = max == Double.NEGATIVE_INFINITY ? 0 : Math.exp(logits[j] - max);
                        sum += logits[j];
                    }
                    for (int c = 0; c < d; c++) {
                        double acc = 0;
                        for (int j = 0; j < nk; j++) {
                            acc += logits[j] * vh[j * d + c];
                        }
                        out.setFloat(sum == 0 ? 0f : (float) (acc / sum), b, h, i, c);
                    }
                }
            }
        }
    }
}
