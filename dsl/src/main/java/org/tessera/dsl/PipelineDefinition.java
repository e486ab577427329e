package org.tessera.dsl;

import org.tessera.dsl.diag.Diagnostics;
import org.tessera.dsl.diag.Span;
import org.tessera.dsl.pipeline.PipelineSettings;

/**
 * A checked pipeline of a script: its settings and its model, instantiated. What remains to run
 * it (weights, a device, plans) is the runtime's.
 */
public final class PipelineDefinition {
    private final PipelineSettings settings;
    private final ModelDefinition model;
    private final Diagnostics diagnostics;

    PipelineDefinition(PipelineSettings settings, ModelDefinition model, Diagnostics diagnostics) {
        this.settings = settings;
        this.model = model;
        this.diagnostics = diagnostics;
    }

    public PipelineSettings settings() {
        return settings;
    }

    public ModelDefinition model() {
        return model;
    }

    /** The pipeline's name. */
    public String name() {
        return settings.name();
    }

    /**
     * Records an error at {@code where} with the diagnostics found so far (warnings included) and
     * returns the exception to throw.
     */
    public CompilationException error(Span where, String message) {
        diagnostics.error(where, message);
        return new CompilationException(diagnostics);
    }
}
