package org.tessera.engine.backend;

import org.tessera.engine.tensor.Tensor;

/** Normalisations over contiguous F32 tensors. {@code out} may be {@code x} (in place). */
public interface NormOps {

    /** Softmax over the last dimension. */
    void softmax(Tensor x, Tensor out);

    /**
     * LayerNorm over the last dimension: (x − mean) / √(var + eps), then ·weight + bias when
     * given (each of length D; either may be null, as in DiT's affine-free norms).
     */
    void layerNorm(Tensor x, Tensor weight, Tensor bias, float eps, Tensor out);

    /**
     * GroupNorm: x [N, C, *] is normalised over each of {@code groups} groups of C/groups
     * channels and all spatial positions, then scaled and shifted per channel when weight and
     * bias (length C) are given.
     */
    void groupNorm(Tensor x, int groups, Tensor weight, Tensor bias, float eps, Tensor out);
}
