package org.tessera.engine.graph;

/** A graph being built has passed {@link GraphBuilder#MAX_NODES}; the message names where it was growing. */
public final class GraphTooLargeException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    GraphTooLargeException(String message) {
        super(message, null, false, false);
    }
}
