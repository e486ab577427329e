package org.tessera.engine.backend;

import org.tessera.engine.tensor.Tensor;

/**
 * Pointwise F32 ops. Binary ops broadcast NumPy-style: {@code out} has the broadcast shape of
 * the inputs and must be contiguous; inputs may be any views. {@code out} may alias an input
 * of the same shape.
 */
public interface ElementwiseOps {
    void add(Tensor a, Tensor b, Tensor out);

    void sub(Tensor a, Tensor b, Tensor out);

    void mul(Tensor a, Tensor b, Tensor out);

    void div(Tensor a, Tensor b, Tensor out);

    /** {@code out = alpha·x + beta·y} (same shapes): the sampler's update arithmetic. */
    void axpby(float alpha, Tensor x, float beta, Tensor y, Tensor out);

    /**
     * {@code out = min(max(x, lo), hi)}, NaN kept (as {@code torch.clamp}): a decoder's output
     * range, a clipped x̂₀.
     */
    void clamp(Tensor x, float lo, float hi, Tensor out);

    /** GELU, tanh approximation. */
    void gelu(Tensor x, Tensor out);

    /** SiLU: x·σ(x). */
    void silu(Tensor x, Tensor out);

    /** Applies {@code activation} pointwise. */
    default void activate(Activation activation, Tensor x, Tensor out) {
        switch (activation) {
            case GELU_TANH -> gelu(x, out);
            case SILU -> silu(x, out);
            case NONE -> {
                if (x != out) {
                    out.copyFrom(x);
                }
            }
        }
    }

    /**
     * adaLN modulation: {@code out = x·(1 + scale) + shift}, with shift and scale broadcastable
     * to x (DiT: x [B, T, D], shift and scale [B, 1, D]).
     */
    void modulate(Tensor x, Tensor shift, Tensor scale, Tensor out);
}
