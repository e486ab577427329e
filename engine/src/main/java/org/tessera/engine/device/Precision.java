package org.tessera.engine.device;

import java.util.Locale;

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
        for (Precision p : values()) {
            if (p.name().equalsIgnoreCase(text.strip())) {
                return p;
            }
        }
        throw new IllegalArgumentException("precision must be fp32, tf32 or bf16, got '" + text + "'");
    }

    /** The lower-case name as users write it. */
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }
}
