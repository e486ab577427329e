package org.tessera.testing;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import org.tessera.engine.tensor.Tensor;

/** How far a result is from a reference, for the golden tests. */
public final class TensorDifference {
    private TensorDifference() {}

    /** max |expected − actual| over every element, after checking that the shapes are equal. */
    public static double maxAbs(Tensor expected, Tensor actual) {
        assertArrayEquals(expected.shape(), actual.shape(), "shapes");
        return maxAbs(expected.toFloatArray(), actual.toFloatArray());
    }

    /** max |expected[i] − actual[i]| over two arrays of one length. */
    public static double maxAbs(float[] expected, float[] actual) {
        if (expected.length != actual.length) {
            throw new AssertionError(expected.length + " values expected, " + actual.length + " given");
        }
        double worst = 0;
        for (int i = 0; i < expected.length; i++) {
            worst = Math.max(worst, Math.abs(expected[i] - actual[i]));
        }
        return worst;
    }
}
