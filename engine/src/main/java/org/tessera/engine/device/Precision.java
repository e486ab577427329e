package org.tessera.engine.device;

/**
 * How a GPU computes matrix products ({@code --precision}); everything else is FP32. The CPU
 * always computes in FP32.
 */
public enum Precision {
    FP32,
    TF32,
    BF16;

    /**
     * Reads {@code fp32}, {@code tf32} or {@code bf16} (any case).
     *
     * @throws IllegalArgumentException naming the valid values
     */
    public static Precision parse(String text) {
        return Labels.parse(Precision.class, text, "precision");
    }

    /** The lower-case name as users write it. */
    public String label() {
        return Labels.label(this);
    }
}
