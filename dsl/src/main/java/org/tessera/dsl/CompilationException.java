package org.tessera.dsl;

import org.tessera.dsl.diag.Diagnostics;

/**
 * A script did not compile. {@link #getMessage()} is every diagnostic rendered with source
 * lines and carets, ready to print.
 */
public final class CompilationException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final transient Diagnostics diagnostics;

    public CompilationException(Diagnostics diagnostics) {
        super(diagnostics.render().stripTrailing(), null, false, false);
        this.diagnostics = diagnostics;
    }

    /** The individual diagnostics. */
    public Diagnostics diagnostics() {
        return diagnostics;
    }
}
