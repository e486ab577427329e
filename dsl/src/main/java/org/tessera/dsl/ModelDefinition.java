package org.tessera.dsl;

import java.util.List;
import java.util.Map;
import org.tessera.dsl.diag.Diagnostics;
import org.tessera.dsl.diag.Span;
import org.tessera.dsl.sema.ModelCompiler;
import org.tessera.engine.graph.GraphBuilder;
import org.tessera.engine.graph.Value;
import org.tessera.engine.io.WeightSource;

/**
 * A model instantiated with concrete parameters: its weights by checkpoint key, its forward
 * inputs, and the lowering of its forward pass to an engine graph for given input shapes.
 */
public final class ModelDefinition {
    private final ModelCompiler compiler;
    private final ModelCompiler.Model model;
    private final Span span;

    ModelDefinition(ModelCompiler compiler, ModelCompiler.Model model, Span span) {
        this.compiler = compiler;
        this.model = model;
        this.span = span;
    }

    /** The declared name, e.g. {@code DiT}. */
    public String name() {
        return model.name();
    }

    /** Where the script instantiates the model (for messages about it). */
    public Span span() {
        return span;
    }

    /** Every weight, keyed as in reference checkpoints, with its shape. */
    public Map<String, int[]> weightShapes() {
        return model.weightShapes();
    }

    /** Parameters in learned weights (fixed buffers excluded). */
    public long parameterCount() {
        return model.parameterCount();
    }

    /** A compile-time parameter or let of the model (Long, Double, Boolean or String), or null. */
    public Object constant(String name) {
        return model.constant(name);
    }

    /**
     * The model's {@code contract { ... }}: its inputs' and outputs' roles for a pipeline.
     *
     * @throws CompilationException when the model declares none or it is invalid
     */
    public ModelContract contract() {
        int before = compiler.diagnostics().errorCount();
        ModelContract c = compiler.contract(model);
        if (c == null) {
            if (compiler.diagnostics().errorCount() == before) {
                compiler.diagnostics()
                        .error(
                                span,
                                name() + " declares no contract; a pipeline that samples needs one,"
                                        + " e.g.  contract { latent = x  timestep = t  label = y  predicts = \"eps\" }");
            }
            throw new CompilationException(compiler.diagnostics());
        }
        return c;
    }

    /** The forward inputs, with symbolic sizes such as {@code B} taken from {@code symbols}. */
    public List<ModelInput> inputs(Map<String, Integer> symbols) {
        synchronized (compiler) {
            Diagnostics d = compiler.diagnostics();
            int before = d.size();
            List<ModelInput> inputs = compiler.inputs(model, symbols).stream()
                    .map(in -> new ModelInput(in.name(), in.shape(), in.dtype()))
                    .toList();
            if (d.since(before).hasErrors()) { // a size annotation that is not a size
                throw new CompilationException(d.since(before));
            }
            return inputs;
        }
    }

    /**
     * Adds the forward pass applied to {@code inputs} to {@code graph}, weights from
     * {@code weights}; every shape is checked as nodes are added.
     *
     * @return the output value
     * @throws CompilationException with every problem found, at its source position
     */
    public Value lower(GraphBuilder graph, List<Value> inputs, WeightSource weights) {
        return lower(graph, inputs, weights, key -> false);
    }

    /**
     * {@link #lower(GraphBuilder, List, WeightSource)} for training: every learned weight is a graph
     * input named by its checkpoint key ({@link #learnedWeightShapes()}), so that a training step
     * feeds its current value and differentiates with respect to it; {@code fixed} tensors (DiT's
     * position table) stay constants from {@code weights}, and so do the learned weights that
     * {@code trainable} refuses (frozen ones).
     */
    public Value lowerTrainable(
            GraphBuilder graph,
            List<Value> inputs,
            WeightSource weights,
            java.util.function.Predicate<String> trainable) {
        return lower(graph, inputs, weights, trainable);
    }

    /** How each weight that declares it starts, by checkpoint key: what {@code init(seed)} weights use. */
    public Map<String, org.tessera.engine.io.WeightInit> weightInits() {
        return model.weightInits();
    }

    /** The learned weights, by checkpoint key, with their shapes: what training updates. */
    public Map<String, int[]> learnedWeightShapes() {
        return model.learnedWeightShapes();
    }

    private Value lower(
            GraphBuilder graph,
            List<Value> inputs,
            WeightSource weights,
            java.util.function.Predicate<String> trainable) {
        // The compiler is shared by every plan of the pipeline (new batch sizes compile while it
        // runs, possibly on several threads): one lowering at a time, and its own errors only.
        synchronized (compiler) {
            Diagnostics d = compiler.diagnostics();
            int before = d.size();
            Value out = compiler.lower(model, graph, inputs, weights, span, trainable);
            if (out == null || d.since(before).hasErrors()) {
                throw new CompilationException(d.since(before));
            }
            return out;
        }
    }
}
