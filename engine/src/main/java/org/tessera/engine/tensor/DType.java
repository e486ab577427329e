package org.tessera.engine.tensor;

/**
 * Element types a {@link Tensor} can hold.
 *
 * <p>F32 is the compute type of the CPU backend; BF16 and F16 are storage types (checkpoints,
 * GPU) converted on the way in and out; I64 holds indices (class labels, timesteps, segment ids);
 * F64 holds the schedule arrays of reference files.
 */
public enum DType {
    F32(4, "f32"),
    F64(8, "f64"),
    BF16(2, "bf16"),
    F16(2, "f16"),
    I64(8, "i64"),
    I32(4, "i32");

    private final int byteSize;
    private final String shortName;

    DType(int byteSize, String shortName) {
        this.byteSize = byteSize;
        this.shortName = shortName;
    }

    /** Bytes one element occupies. */
    public int byteSize() {
        return byteSize;
    }

    /** Lower-case name used in messages and summaries, e.g. {@code bf16}. */
    public String shortName() {
        return shortName;
    }

    /** True for the floating-point types. */
    public boolean isFloatingPoint() {
        return this == F32 || this == F64 || this == BF16 || this == F16;
    }
}
