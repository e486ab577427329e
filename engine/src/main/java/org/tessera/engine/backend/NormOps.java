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
     * DiT's {@code modulate(norm(x), shift, scale)} fused: an affine-free LayerNorm over the
     * last dimension, then adaLN modulation,
     * <pre>  out = (x − mean) / √(var + eps) · (1 + scale) + shift</pre>
     * with mean and population variance per row of x, and shift and scale any f32 views
     * broadcastable to x (DiT: x [B, T, D], shift and scale [B, 1, D]). x and out are
     * contiguous of one shape; out may be x.
     */
    void layerNormModulate(Tensor x, Tensor shift, Tensor scale, float eps, Tensor out);

    /**
     * GroupNorm: x [N, C, *] is normalised over each of {@code groups} groups of C/groups
     * channels and all spatial positions, then scaled and shifted per channel when weight and
     * bias (length C) are given.
     */
    void groupNorm(Tensor x, int groups, Tensor weight, Tensor bias, float eps, Tensor out);

    /**
     * {@link #groupNorm} followed by {@code activation} on its result: a VAE puts SiLU after
     * nearly every GroupNorm. By default the two passes, the second through {@code elementwise};
     * a backend that can apply the activation as it writes the normalised values overrides this.
     */
    default void groupNorm(
            Tensor x,
            int groups,
            Tensor weight,
            Tensor bias,
            float eps,
            Activation activation,
            Tensor out,
            ElementwiseOps elementwise) {
        groupNorm(x, groups, weight, bias, eps, out);
        elementwise.activate(activation, out, out);
    }
}
