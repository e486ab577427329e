package org.tessera.dsl;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import org.tessera.dsl.ast.Ast;
import org.tessera.dsl.diag.Span;
import org.tessera.dsl.sema.ModelCompiler;
import org.tessera.engine.graph.GraphBuilder;
import org.tessera.engine.graph.Value;
import org.tessera.engine.io.WeightBinding;

/**
 * A sampler written in the language ({@code sampler ddim(eta: float = 0.0) { … }}), with its
 * arguments from the pipeline. Each reverse step instantiates it with that step's
 * {@link StepValues} and lowers its forward to a small graph over the step's quantities, so the
 * schedule arithmetic is done once, in double, and folded into the step's plan.
 *
 * <p>The quantities a step's forward may take, by name: {@code x} (x_t), {@code output} (the
 * model's output), {@code x0} (x̂₀, clipped when the pipeline says so), {@code eps} (ε̂ from x_t
 * and x̂₀), {@code mean} (the posterior mean μ̃(x̂₀, x_t)), {@code log_variance} and {@code std}
 * (the model's variance of the step: log σ² and σ), {@code noise} (z ~ N(0, I), the seed's stream
 * for this step) and {@code prev_x0} (the previous step's x̂₀; x̂₀ itself at the first step).
 */
public final class SamplerDefinition {
    /** Every quantity a step can take, in the order the runtime computes them. */
    public static final List<String> QUANTITIES =
            List.of("x", "output", "x0", "eps", "mean", "log_variance", "std", "noise", "prev_x0");

    private final ModelCompiler compiler;
    private final Ast.Call call;

    SamplerDefinition(ModelCompiler compiler, Ast.Call call) {
        this.compiler = compiler;
        this.call = call;
    }

    /** The sampler's declared name, e.g. {@code ddim}. */
    public String name() {
        return call.dotted();
    }

    /** The sampler and its arguments as written, e.g. {@code ddim(eta = 0.5)}: equal texts, equal steps. */
    public String describe() {
        StringBuilder sb = new StringBuilder(name()).append('(');
        for (Ast.Arg a : call.args()) {
            sb.append(sb.charAt(sb.length() - 1) == '(' ? "" : ", ")
                    .append(a.name())
                    .append(" = ")
                    .append(text(a.value()));
        }
        return sb.append(')').toString();
    }

    private static String text(Ast.Expr e) {
        return switch (e) {
            case Ast.IntLit i -> Long.toString(i.value());
            case Ast.FloatLit f -> Double.toString(f.value());
            case Ast.BoolLit b -> Boolean.toString(b.value());
            case Ast.StringLit s -> "\"" + s.value() + "\"";
            default -> e.span().toString(); // an expression: its place in the source identifies it
        };
    }

    @Override
    public String toString() {
        return describe();
    }

    /** Where the pipeline names the sampler. */
    public Span span() {
        return call.span();
    }

    /**
     * The same sampler with parameter {@code name} set to {@code value} (e.g. a request's η).
     *
     * @throws IllegalArgumentException when the sampler has no such parameter
     */
    public SamplerDefinition withArgument(String name, double value) {
        if (!compiler.parameterNames(call.dotted()).contains(name)) {
            throw new IllegalArgumentException("sampler " + name() + " has no parameter '" + name + "' (parameters: "
                    + String.join(", ", compiler.parameterNames(call.dotted())) + ")");
        }
        List<Ast.Arg> args = new ArrayList<>();
        for (Ast.Arg a : call.args()) {
            if (!name.equals(a.name())) {
                args.add(a);
            }
        }
        args.add(new Ast.Arg(name, new Ast.FloatLit(value, call.span()), call.span()));
        return new SamplerDefinition(compiler, new Ast.Call(call.callee(), args, call.span()));
    }

    /** A step as lowered: the quantities its forward takes, in declared order, and x_{t−1}. */
    public record LoweredStep(List<String> inputs, Value next) {}

    /**
     * Adds the step to {@code graph}: the sampler's forward, instantiated once with the step's
     * values, on the quantities it declares, each asked of {@code quantity} by name in declared order.
     *
     * @throws CompilationException with the problems found, at their source positions: the sampler
     *     does not instantiate, takes an unknown quantity or does not lower
     */
    public LoweredStep lowerStep(GraphBuilder graph, Function<String, Value> quantity, StepValues step) {
        synchronized (compiler) { // shared with every plan of the pipeline; see ModelDefinition.lower
            int before = compiler.diagnostics().size();
            ModelCompiler.Model m = instantiate(step);
            List<String> names = compiler.forwardInputNames(m);
            for (String n : names) {
                if (!QUANTITIES.contains(n)) {
                    compiler.diagnostics()
                            .error(
                                    call.span(),
                                    "sampler " + name() + ": forward input '" + n + "' is not a step quantity ("
                                            + String.join(", ", QUANTITIES) + ")");
                    throw new CompilationException(compiler.diagnostics().since(before));
                }
            }
            List<Value> in = names.stream().map(quantity).toList();
            Value out = compiler.lower(m, graph, in, WeightBinding.placeholders(), call.span());
            if (out == null || compiler.diagnostics().since(before).hasErrors()) {
                throw new CompilationException(compiler.diagnostics().since(before));
            }
            return new LoweredStep(names, out);
        }
    }

    private ModelCompiler.Model instantiate(StepValues step) {
        int before = compiler.diagnostics().size();
        ModelCompiler.Model m = compiler.instantiateSampler(call, step.byName());
        if (m == null || compiler.diagnostics().since(before).hasErrors()) {
            throw new CompilationException(compiler.diagnostics().since(before));
        }
        return m;
    }
}
