package org.tessera.engine.diffusion;

/** What the first C channels of a model's output mean. */
public enum Parameterization {
    /** The noise ε that produced x_t (Ho et al. 2020); DiT's choice. */
    EPSILON,
    /** The clean sample x_0 itself. */
    X0,
    /** The velocity v = √ᾱ_t ε − √(1−ᾱ_t) x_0 (Salimans &amp; Ho 2022), needed with zero terminal SNR. */
    V
}
