package org.tessera.engine.tensor;

/**
 * An op was given tensors whose shapes, dtypes or devices do not fit together. The message
 * names the op and every shape involved, e.g. {@code gemm: A [3, 4] and B [5, 6]: inner
 * dimensions 4 and 5 differ}.
 */
public class ShapeMismatchException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    public ShapeMismatchException(String message) {
        super(message);
    }
}
