package org.tessera.engine.backend;

import org.tessera.engine.tensor.Tensor;

/** Scaled dot-product attention. */
public interface AttentionOps {

    /**
     * {@code out = softmax(scale·Q·Kᵀ + mask)·V} per batch and head, with Q [B, H, Nq, d], K and
     * V [B, H, Nk, d], out [B, H, Nq, d], all F32; inputs may be any strided views (for example
     * slices of a fused qkv projection), out must have contiguous rows.
     */
    void attention(Tensor q, Tensor k, Tensor v, Tensor out, AttentionMask mask, float scale);

    /**
     * Block-diagonal self-attention given segment ids as an integer tensor [B, N] in this
     * backend's memory (Patch n' Pack): query i sees key j when their ids are equal.
     */
    default void attention(Tensor q, Tensor k, Tensor v, Tensor out, Tensor segmentIds, float scale) {
        attention(q, k, v, out, AttentionMask.Segments.of(segmentIds), scale);
    }

    /** Attention with the usual scale 1/√d. */
    default void attention(Tensor q, Tensor k, Tensor v, Tensor out, AttentionMask mask) {
        attention(q, k, v, out, mask, (float) (1.0 / Math.sqrt(q.size(-1))));
    }
}
