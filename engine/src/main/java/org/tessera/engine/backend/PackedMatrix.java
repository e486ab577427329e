package org.tessera.engine.backend;

/**
 * A constant right-hand GEMM operand B [K, N] laid out once in the backend's preferred panel
 * format. Weights are constant across sampler steps, so a model packs them at load time and
 * every GEMM skips the packing pass.
 */
public interface PackedMatrix {
    /** K: rows of B (the reduction dimension). */
    int rows();

    /** N: columns of B (the output width). */
    int cols();
}
