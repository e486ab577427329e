package org.tessera.engine.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import org.tessera.engine.backend.Activation;

/** Vectorised activations shared by the GEMM epilogue and the elementwise kernels. */
final class VectorMath {
    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    static final int L = S.length();

    private VectorMath() {}

    /** GELU-tanh: ½x(1 + tanh(√(2/π)(x + 0.044715x³))). */
    static FloatVector gelu(FloatVector x) {
        FloatVector inner = x.mul(x).mul(Activation.GELU_CUBIC).add(1f).mul(x).mul(Activation.SQRT_2_OVER_PI);
        return inner.lanewise(VectorOperators.TANH).add(1f).mul(x).mul(0.5f);
    }

    /** SiLU: x / (1 + e^(−x)). */
    static FloatVector silu(FloatVector x) {
        return x.div(x.neg().lanewise(VectorOperators.EXP).add(1f));
    }

    static FloatVector apply(Activation a, FloatVector x) {
        return switch (a) {
            case NONE -> x;
            case GELU_TANH -> gelu(x);
            case SILU -> silu(x);
        };
    }

    static float gelu(float x) {
        return (float) Activation.GELU_TANH.apply(x);
    }

    static float silu(float x) {
        return (float) (x / (1 + Math.exp(-x)));
    }

    static float apply(Activation a, float x) {
        return switch (a) {
            case NONE -> x;
            case GELU_TANH -> gelu(x);
            case SILU -> silu(x);
        };
    }
}
