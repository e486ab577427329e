package org.tessera.dsl.diag;

/**
 * A range of source text: 1-based line and column of the first character, and of the character
 * after the last. Every AST node carries one, so a diagnostic found deep in shape checking still
 * points at the expression that caused it.
 */
public record Span(String file, int line, int column, int endLine, int endColumn) {
    /** A span for things that have no source (built-ins, command-line settings). */
    public static final Span NONE = new Span("<builtin>", 0, 0, 0, 0);

    /** {@code file:line:col}. */
    @Override
    public String toString() {
        return file + ":" + line + ":" + column;
    }
}
