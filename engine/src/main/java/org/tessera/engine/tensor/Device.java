package org.tessera.engine.tensor;

/** Where a tensor's storage lives. Only {@link #CPU} storage is addressable from Java. */
public enum Device {
    CPU,
    CUDA;

    public String shortName() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
