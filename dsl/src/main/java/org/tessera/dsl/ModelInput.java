package org.tessera.dsl;

import org.tessera.engine.tensor.DType;

/**
 * A model's forward input as declared: {@code x: [B, 4, 32, 32]}, {@code y: i64([B])}.
 *
 * @param name the input's name in {@code forward(...)}
 * @param shape the shape with symbolic sizes bound, or null when the input has no annotation; a
 *     size that could not be evaluated is −1
 * @param dtype from an {@code i64(...)}/{@code bf16(...)} annotation, else F32
 */
public record ModelInput(String name, int[] shape, DType dtype) {
    /** True when every size is known. */
    public boolean sized() {
        return shape != null && java.util.Arrays.stream(shape).allMatch(x -> x >= 0);
    }
}
