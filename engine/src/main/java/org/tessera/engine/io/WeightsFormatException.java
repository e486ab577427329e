package org.tessera.engine.io;

/**
 * A weights file that cannot be read as what it claims to be: truncated, hostile or
 * inconsistent. The message names the file and, where one is involved, the tensor.
 */
public final class WeightsFormatException extends RuntimeException {
    public WeightsFormatException(String message) {
        super(message);
    }

    public WeightsFormatException(String message, Throwable cause) {
        super(message, cause);
    }
}
