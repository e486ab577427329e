package org.tessera.engine.device;

import java.util.Locale;

/** Where a user asks the model to run: {@code --device cpu|cuda|auto}. */
public enum DeviceChoice {
    /** The CPU backend (SIMD kernels, or the scalar fallback). */
    CPU,
    /** GPU 0 through CUDA; an error when it cannot start. */
    CUDA,
    /** GPU 0 when CUDA 13, a driver and a GPU are present, else the CPU. */
    AUTO;

    /**
     * Reads {@code cpu}, {@code cuda} or {@code auto} (any case).
     *
     * @throws IllegalArgumentException naming the valid values
     */
    public static DeviceChoice parse(String text) {
        for (DeviceChoice c : values()) {
            if (c.name().equalsIgnoreCase(text.strip())) {
                return c;
            }
        }
        throw new IllegalArgumentException("device must be cpu, cuda or auto, got '" + text + "'");
    }

    /** The lower-case name as users write it. */
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }
}
