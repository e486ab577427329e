package org.tessera.engine.backend;

import org.tessera.engine.tensor.Tensor;

/**
 * What a GEMM does to each output tile after the product, while the tile is still in cache:
 * {@code C = activation(C + bias)}.
 *
 * @param bias an F32 vector of length N added to every row, or null
 * @param activation applied after the bias
 */
public record Epilogue(Tensor bias, Activation activation) {
    /** No bias, no activation. */
    public static final Epilogue NONE = new Epilogue(null, Activation.NONE);

    public Epilogue {
        if (activation == null) {
            activation = Activation.NONE;
        }
    }

    public static Epilogue bias(Tensor bias) {
        return new Epilogue(bias, Activation.NONE);
    }

    public static Epilogue of(Tensor bias, Activation activation) {
        return new Epilogue(bias, activation);
    }

    public boolean isNone() {
        return bias == null && activation == Activation.NONE;
    }
}
