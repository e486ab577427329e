package org.tessera.engine.backend;

import java.util.Arrays;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.ShapeMismatchException;
import org.tessera.engine.tensor.Tensor;

/** Which query–key pairs attention may use. */
public sealed interface AttentionMask {
    /** Every query sees every key. */
    AttentionMask NONE = new None();

    /** Full attention. */
    record None() implements AttentionMask {}

    /**
     * An additive bias on the logits, broadcastable to [batch, heads, Nq, Nk] (rank 2 to 4,
     * right-aligned); {@code -inf} removes a pair.
     */
    record Additive(Tensor bias) implements AttentionMask {
        public Additive {
            if (bias.rank() < 2 || bias.rank() > 4) {
                throw new ShapeMismatchException(
                        "attention mask: additive bias must have rank 2..4, got " + Arrays.toString(bias.shape()));
            }
        }
    }

    /**
     * Block-diagonal attention for packed sequences (Patch n' Pack): query {@code i} of batch
     * row {@code b} sees key {@code j} only when {@code query[b][i] == key[b][j]}. Segment ids are
     * per batch row; a row whose segment has no key gets a zero output.
     */
    record Segments(int[][] query, int[][] key) implements AttentionMask {
        /** Segment ids from I64 (or integral) tensors of shape [batch, Nq] and [batch, Nk]. */
        public static Segments of(Tensor query, Tensor key) {
            return new Segments(rows(query), rows(key));
        }

        /** The same ids for queries and keys (self-attention). */
        public static Segments of(Tensor ids) {
            int[][] r = rows(ids);
            return new Segments(r, r);
        }

        private static int[][] rows(Tensor t) {
            if (t.rank() != 2 || t.dtype().isFloatingPoint() && t.dtype() != DType.F32) {
                throw new ShapeMismatchException("attention mask: segment ids must be [batch, tokens], got " + t);
            }
            long[] all = t.toLongArray();
            int b = t.size(0);
            int n = t.size(1);
            int[][] out = new int[b][n];
            for (int i = 0; i < b; i++) {
                for (int j = 0; j < n; j++) {
                    out[i][j] = Math.toIntExact(all[i * n + j]);
                }
            }
            return out;
        }
    }
}
