package org.tessera.engine.device;

/** What a model needs does not fit the memory available; the message names both sizes. */
public final class InsufficientMemoryException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    InsufficientMemoryException(String message) {
        super(message, null, false, false);
    }
}
