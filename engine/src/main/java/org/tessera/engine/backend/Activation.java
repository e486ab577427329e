package org.tessera.engine.backend;

/** Pointwise activations that GEMM epilogues and elementwise ops apply. */
public enum Activation {
    NONE,
    /** GELU, tanh approximation: ½x(1 + tanh(√(2/π)(x + 0.044715x³))), as DiT's MLP uses. */
    GELU_TANH,
    /** SiLU (swish): x·σ(x) = x / (1 + e^(−x)), as DiT's adaLN and timestep MLPs use. */
    SILU;

    /** √(2/π), the GELU-tanh inner scale. */
    public static final float SQRT_2_OVER_PI = 0.7978845608028654f;
    /** Cubic coefficient of the GELU-tanh approximation. */
    public static final float GELU_CUBIC = 0.044715f;

    /** The scalar definition, in double for use as a reference. */
    public double apply(double x) {
        return switch (this) {
            case NONE -> x;
            case GELU_TANH -> 0.5 * x * (1 + Math.tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)));
            case SILU -> x / (1 + Math.exp(-x));
        };
    }
}
