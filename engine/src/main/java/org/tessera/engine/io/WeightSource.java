package org.tessera.engine.io;

import org.tessera.engine.tensor.Tensor;

/**
 * Supplies a model's weight tensors by checkpoint key: from a checkpoint, random data, or
 * shape-only placeholders (see {@link WeightBinding}).
 */
@FunctionalInterface
public interface WeightSource {
    /** The tensor for {@code key}, of exactly {@code shape}. */
    Tensor tensor(String key, int[] shape);
}
