package org.tessera.engine.device;

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
        return Labels.parse(DeviceChoice.class, text, "device");
    }

    /** The lower-case name as users write it. */
    public String label() {
        return Labels.label(this);
    }
}
