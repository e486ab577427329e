package org.tessera.dsl;

import java.util.Map;
import org.tessera.dsl.diag.Diagnostics;
import org.tessera.dsl.diag.Span;
import org.tessera.dsl.pipeline.PipelineSettings;

/**
 * A checked pipeline of a script: its settings and its model, instantiated. What remains to run
 * it (weights, a device, plans) is the runtime's.
 */
public final class PipelineDefinition {
    private final PipelineSettings settings;
    private final Map<String, ModelDefinition> models;
    private final Map<String, SamplerDefinition> samplers;
    private final Diagnostics diagnostics;

    PipelineDefinition(
            PipelineSettings settings,
            Map<String, ModelDefinition> models,
            Map<String, SamplerDefinition> samplers,
            Diagnostics diagnostics) {
        this.settings = settings;
        this.models = Map.copyOf(models);
        this.samplers = Map.copyOf(samplers);
        this.diagnostics = diagnostics;
    }

    public PipelineSettings settings() {
        return settings;
    }

    /** The model of stage {@code stage} (a sample or forward stage). */
    public ModelDefinition model(String stage) {
        ModelDefinition m = models.get(stage);
        if (m == null) {
            throw new IllegalArgumentException("stage '" + stage + "' has no model");
        }
        return m;
    }

    /** The pipeline's name. */
    public String name() {
        return settings.name();
    }

    /** The sampler of sample stage {@code stage}. */
    public SamplerDefinition sampler(String stage) {
        SamplerDefinition s = samplers.get(stage);
        if (s == null) {
            throw new IllegalArgumentException("stage '" + stage + "' has no sampler");
        }
        return s;
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
