package org.tessera.dsl.sema;

/**
 * A mistake found while instantiating or lowering a model. Thrown by built-ins and caught at the
 * expression that called them, which reports it at its own span and continues with a poison
 * value.
 */
final class CompileError extends RuntimeException {
    private static final long serialVersionUID = 1L;

    CompileError(String message) {
        super(message, null, false, false);
    }
}
