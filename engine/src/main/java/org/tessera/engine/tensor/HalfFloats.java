package org.tessera.engine.tensor;

/**
 * Conversions between float and the two 16-bit float formats.
 *
 * <p>BF16 is the upper half of an IEEE binary32, so widening is a shift; narrowing rounds to
 * nearest-even on the dropped 16 bits (the same rule PyTorch and CUDA's {@code __float2bfloat16}
 * use), keeping NaN a quiet NaN. F16 is IEEE binary16, which the JDK converts natively.
 */
public final class HalfFloats {
    private HalfFloats() {}

    /** bf16 bits → float: the bits are the float's high half. */
    public static float bf16ToFloat(short bits) {
        return Float.intBitsToFloat((bits & 0xFFFF) << 16);
    }

    /** float → bf16 bits, round to nearest, ties to even. */
    public static short floatToBf16(float value) {
        int bits = Float.floatToRawIntBits(value);
        if ((bits & 0x7FFF_FFFF) > 0x7F80_0000) { // NaN: keep sign, force a quiet payload bit
            return (short) ((bits >>> 16) | 0x0040);
        }
        // Adding 0x7FFF plus the lowest kept bit rounds the dropped half to nearest-even.
        int rounded = bits + 0x7FFF + ((bits >>> 16) & 1);
        return (short) (rounded >>> 16);
    }

    /** f16 bits → float. */
    public static float f16ToFloat(short bits) {
        return Float.float16ToFloat(bits);
    }

    /** float → f16 bits, round to nearest-even (IEEE). */
    public static short floatToF16(float value) {
        return Float.floatToFloat16(value);
    }
}
