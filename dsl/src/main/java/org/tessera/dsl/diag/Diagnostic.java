package org.tessera.dsl.diag;

/** One message about a source location. */
public record Diagnostic(Severity severity, Span span, String message) {
    public enum Severity {
        ERROR,
        WARNING;

        String label() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    /** {@code file:line:col: error: message}. */
    public String headline() {
        return span + ": " + severity.label() + ": " + message;
    }
}
