package org.tessera.engine.backend;

import org.tessera.engine.tensor.Tensor;

/**
 * The backward pass's kernels that are not products: the gradients of activations and
 * normalisations, and the sums that undo broadcasting. Operands are contiguous F32 tensors; the
 * graph's gradient ops ({@code activate_grad}, {@code sum_to}, {@code layernorm_grad},
 * {@code softmax_grad}) lower to them.
 *
 * <p>Every implementation is deterministic: the same inputs give the same bits on any thread
 * count and before or after the JIT compiles it, so that a resumed training run repeats an
 * uninterrupted one exactly.
 */
public interface BackwardOps {
    /** {@code out = g · act'(pre)} elementwise; pre, g and out of one shape. */
    void activationGrad(Activation activation, Tensor pre, Tensor g, Tensor out);

    /**
     * {@code x} summed down to out's shape, which broadcasts to x's (trailing dimensions
     * aligned): {@code out[j] = Σ x[i]} over the i that broadcasting maps to j. The adjoint of
     * broadcasting: the gradient of a bias, of a broadcast operand, a loss's sum.
     */
    void sumTo(Tensor x, Tensor out);

    /**
     * The gradient of an affine-free layer norm over the last dimension from its input x and
     * the gradient gy of its output: with x̂ = (x − μ)/σ, σ = √(var + eps), and n the row length,
     * {@code dx = (gy − mean(gy) − x̂·mean(gy·x̂)) / σ}.
     */
    void layerNormGrad(Tensor x, Tensor gy, float eps, Tensor out);

    /** The gradient of softmax over the last dimension from its output y: {@code dx = y ⊙ (gy − Σ gy⊙y)} per row. */
    void softmaxGrad(Tensor y, Tensor gy, Tensor out);

    /** For a backend that has no training kernels yet: every call fails, naming the backend. */
    static BackwardOps none(String backend) {
        return new BackwardOps() {
            private UnsupportedOperationException refused() {
                return new UnsupportedOperationException(
                        "training kernels run on the CPU backends; " + backend + " has none yet");
            }

            @Override
            public void activationGrad(Activation activation, Tensor pre, Tensor g, Tensor out) {
                throw refused();
            }

            @Override
            public void sumTo(Tensor x, Tensor out) {
                throw refused();
            }

            @Override
            public void layerNormGrad(Tensor x, Tensor gy, float eps, Tensor out) {
                throw refused();
            }

            @Override
            public void softmaxGrad(Tensor y, Tensor gy, Tensor out) {
                throw refused();
            }
        };
    }
}
