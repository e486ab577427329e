package org.tessera.dsl.sema;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tessera.dsl.ast.Ast;
import org.tessera.dsl.diag.Diagnostics;
import org.tessera.dsl.diag.Span;
import org.tessera.engine.graph.GraphBuilder;
import org.tessera.engine.graph.GraphTooLargeException;
import org.tessera.engine.graph.Value;
import org.tessera.engine.io.WeightSource;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.ShapeMismatchException;

/**
 * Instantiates blocks with concrete parameters and lowers their forward bodies to the engine's
 * graph. Shapes are checked as the graph is built, so every mismatch is reported at the
 * expression that caused it, and compilation goes on to find the others.
 */
public final class ModelCompiler {
    /** Block instances made by the current top-level instantiation, against {@link Limits#MAX_BLOCK_INSTANCES}. */
    private int instances;

    /** The calls being instantiated, innermost first: where a message about library code is reported. */
    private final java.util.ArrayDeque<Ast.Call> calls = new java.util.ArrayDeque<>();

    /** A forward input with its declared shape resolved ({@code dtype} from an {@code i64(...)} annotation). */
    public record InputSpec(String name, int[] shape, DType dtype) {}

    private final Program program;
    private final Diagnostics diagnostics;
    private final Evaluator constants;
    /** The blocks being instantiated, outermost first: a block found again in it instantiates itself. */
    private final java.util.ArrayDeque<String> instantiating = new java.util.ArrayDeque<>();

    public ModelCompiler(Program program) {
        this.program = program;
        this.diagnostics = program.diagnostics();
        this.constants = Evaluator.constantsOnly(diagnostics);
    }

    /** Where this compiler reports (the program's diagnostics). */
    public Diagnostics diagnostics() {
        return diagnostics;
    }

    /**
     * Reports at {@code span}; a place inside the standard library is reported at the innermost
     * call in the user's own files that led there (naming the library line), so that every
     * message points at a line the user wrote.
     */
    private void error(Span span, String message) {
        if (span.file().startsWith("stdlib/")) {
            for (Ast.Call c : calls) { // innermost first
                if (!c.span().file().startsWith("stdlib/")) {
                    diagnostics.error(c.span(), message + " (in " + c.dotted() + ", at " + span + ")");
                    return;
                }
            }
        }
        diagnostics.error(span, message);
    }

    /** An instantiated model: the root instance and every weight it declares. */
    public static final class Model {
        private final ModuleInstance root;
        private final Ast.Call call;

        Model(ModuleInstance root, Ast.Call call) {
            this.root = root;
            this.call = call;
        }

        public String name() {
            return root.declName();
        }

        /** Every weight, keyed as in reference checkpoints, with its shape. */
        public Map<String, int[]> weightShapes() {
            Map<String, int[]> out = new LinkedHashMap<>();
            for (ModuleInstance.WeightSpec w : root.allWeights()) {
                out.put(w.key(), w.shape());
            }
            return out;
        }

        /** How each weight that declares it starts ({@code = xavier_uniform()}), by key. */
        public Map<String, org.tessera.engine.io.WeightInit> weightInits() {
            Map<String, org.tessera.engine.io.WeightInit> out = new LinkedHashMap<>();
            for (ModuleInstance.WeightSpec w : root.allWeights()) {
                if (w.init() != null) {
                    out.put(w.key(), w.init());
                }
            }
            return out;
        }

        /** The learned weights (not {@code fixed}), keyed as in reference checkpoints, with their shapes. */
        public Map<String, int[]> learnedWeightShapes() {
            Map<String, int[]> out = new LinkedHashMap<>();
            for (ModuleInstance.WeightSpec w : root.allWeights()) {
                if (!w.fixed()) {
                    out.put(w.key(), w.shape());
                }
            }
            return out;
        }

        /** Parameters in learned weights (fixed buffers excluded). */
        public long parameterCount() {
            long n = 0;
            for (ModuleInstance.WeightSpec w : root.allWeights()) {
                if (!w.fixed()) {
                    n += Arrays.stream(w.shape()).asLongStream().reduce(1, (a, b) -> a * b);
                }
            }
            return n;
        }

        /** A compile-time parameter or let of the root block, e.g. {@code num_classes}. */
        public Object constant(String name) {
            return switch (root.env().get(name)) {
                case CompileValue.IntV i -> i.value();
                case CompileValue.FloatV f -> f.value();
                case CompileValue.BoolV b -> b.value();
                case CompileValue.StrV s -> s.value();
                case null, default -> null;
            };
        }
    }

    // ------------------------------------------------------------------ instantiation

    /** Instantiates {@code call} (a model, block or alias name with arguments); null after errors. */
    public Model instantiate(Ast.Call call) {
        instances = 0;
        ModuleInstance m = instantiate(call, Scope.of(Map.of()), "");
        return m == null ? null : new Model(m, call);
    }

    /** Instantiates a declared model or alias with its defaults. */
    public Model instantiateDefault(String name, Span span) {
        return instantiate(new Ast.Call(List.of(name), List.of(), span));
    }

    /**
     * Instantiates the sampler {@code call} for one step: its parameters from the call's
     * arguments, and {@code step} (the step's schedule values: {@code alpha_bar}, {@code last}, …)
     * in scope for its lets and its forward. Null after errors (reported).
     */
    public Model instantiateSampler(Ast.Call call, Map<String, Object> step) {
        instances = 0;
        Ast.BlockDecl decl = program.blocks().get(call.dotted());
        if (decl == null || !decl.isSampler()) {
            List<String> samplers = program.blocks().values().stream()
                    .filter(Ast.BlockDecl::isSampler)
                    .map(Ast.BlockDecl::name)
                    .toList();
            error(
                    call.span(),
                    (decl == null ? "unknown sampler '" : "'") + call.dotted()
                            + (decl == null
                                    ? "'"
                                    : "' is a " + decl.kind().name().toLowerCase(java.util.Locale.ROOT)
                                            + ", not a sampler")
                            + Suggestions.didYouMean(call.dotted(), samplers)
                            + " (samplers: " + String.join(", ", samplers) + ")");
            return null;
        }
        for (Ast.Param p : decl.params()) {
            if (step.containsKey(p.name())) {
                error(p.span(), "sampler parameter '" + p.name() + "' hides the step value of that name");
                return null;
            }
        }
        calls.push(call);
        try {
            return instantiateSampler(decl, call, step);
        } finally {
            calls.pop();
        }
    }

    private Model instantiateSampler(Ast.BlockDecl decl, Ast.Call call, Map<String, Object> step) {
        Map<String, CompileValue> params = bindParams(decl, call.args(), Scope.of(Map.of()), Map.of(), call.span());
        if (params == null) {
            return null;
        }
        ModuleInstance m = ModuleInstance.create(decl.name(), "");
        step.forEach((k, v) -> m.env()
                .put(
                        k,
                        switch (v) {
                            case Integer i -> new CompileValue.IntV(i);
                            case Long l -> new CompileValue.IntV(l);
                            case Double d -> new CompileValue.FloatV(d);
                            case Boolean b -> new CompileValue.BoolV(b);
                            default -> throw new IllegalArgumentException("step value " + k + " = " + v);
                        }));
        m.env().putAll(params);
        Ast.ForwardMember forward = members(decl.members(), m, Scope.of(m.env()));
        if (!m.weights().isEmpty()) {
            error(m.weights().get(0).span(), "a sampler has no weights; it combines the step's quantities");
            return null;
        }
        if (forward == null) {
            error(
                    decl.span(),
                    "sampler " + decl.name() + " has no forward(...): the step, e.g. forward(x0, eps) {"
                            + " return ... }");
            return null;
        }
        return new Model(m.withForward(forward), call);
    }

    private ModuleInstance instantiate(Ast.Call call, Scope callerScope, String prefix) {
        calls.push(call);
        try {
            return instantiateCall(call, callerScope, prefix);
        } finally {
            calls.pop();
        }
    }

    private ModuleInstance instantiateCall(Ast.Call call, Scope callerScope, String prefix) {
        String name = call.dotted();
        List<Ast.Arg> args = new ArrayList<>(call.args());
        Scope argScope = callerScope;
        // An alias contributes its arguments as defaults; the caller's arguments override them.
        Ast.AliasDecl alias = program.aliases().get(name);
        Map<String, CompileValue> aliasArgs = new HashMap<>();
        int guard = 0;
        while (alias != null && guard++ < 16) {
            for (Ast.Arg a : alias.target().args()) {
                if (a.name() == null) {
                    error(a.span(), "a model alias must name its arguments (name = value)");
                    return null;
                }
                aliasArgs.putIfAbsent(a.name(), constants.eval(a.value(), Scope.of(Map.of())));
            }
            name = alias.target().dotted();
            alias = program.aliases().get(name);
        }
        Ast.BlockDecl decl = program.blocks().get(name);
        if (decl == null) {
            List<String> known = new ArrayList<>(program.blocks().keySet());
            known.addAll(program.aliases().keySet());
            error(call.span(), "unknown block '" + name + "'" + Suggestions.didYouMean(name, known));
            return null;
        }
        Map<String, CompileValue> params = bindParams(decl, args, argScope, aliasArgs, call.span());
        if (params == null) {
            return null;
        }
        if (instantiating.contains(decl.name())) {
            List<String> cycle = new ArrayList<>(instantiating);
            java.util.Collections.reverse(cycle);
            cycle = new ArrayList<>(cycle.subList(cycle.indexOf(decl.name()), cycle.size()));
            cycle.add(decl.name());
            error(call.span(), "block " + decl.name() + " contains itself: " + String.join(" → ", cycle));
            return null;
        }
        if (++instances > Limits.MAX_BLOCK_INSTANCES) {
            if (instances == Limits.MAX_BLOCK_INSTANCES + 1) { // once, not for every block past the limit
                error(
                        call.span(),
                        "a model holds at most " + Limits.MAX_BLOCK_INSTANCES + " block instances;"
                                + " this one passes that here (are its repeat counts far larger than intended?)");
            }
            return null;
        }
        ModuleInstance m = ModuleInstance.create(decl.name(), prefix);
        m.env().putAll(params);
        instantiating.push(decl.name());
        try {
            Ast.ForwardMember forward = members(decl.members(), m, Scope.of(m.env()));
            return m.withForward(forward);
        } finally {
            instantiating.pop();
        }
    }

    private Map<String, CompileValue> bindParams(
            Ast.BlockDecl decl, List<Ast.Arg> args, Scope scope, Map<String, CompileValue> aliasArgs, Span span) {
        Map<String, CompileValue> out = new LinkedHashMap<>();
        List<Ast.Param> params = decl.params();
        boolean ok = true;
        int position = 0;
        for (Ast.Arg a : args) {
            Ast.Param target;
            if (a.name() == null) {
                if (position >= params.size()) {
                    error(
                            a.span(),
                            decl.name() + " takes " + params.size() + " parameter" + (params.size() == 1 ? "" : "s")
                                    + " but more arguments were given");
                    ok = false;
                    continue;
                }
                target = params.get(position++);
            } else {
                target = params.stream()
                        .filter(p -> p.name().equals(a.name()))
                        .findFirst()
                        .orElse(null);
                if (target == null) {
                    error(
                            a.span(),
                            decl.name() + " has no parameter '" + a.name() + "'"
                                    + Suggestions.didYouMean(
                                            a.name(),
                                            params.stream().map(Ast.Param::name).toList()));
                    ok = false;
                    continue;
                }
            }
            if (out.containsKey(target.name())) {
                error(a.span(), decl.name() + ": parameter '" + target.name() + "' given twice");
                ok = false;
                continue;
            }
            CompileValue v = coerce(target, constants.eval(a.value(), scope), a.span(), decl.name());
            if (v == null) {
                ok = false;
            } else {
                out.put(target.name(), v);
            }
        }
        for (Ast.Param p : params) {
            if (out.containsKey(p.name())) {
                continue;
            }
            if (aliasArgs.containsKey(p.name())) {
                out.put(p.name(), coerce(p, aliasArgs.get(p.name()), p.span(), decl.name()));
            } else if (p.defaultValue() != null) {
                // Defaults may refer to earlier parameters.
                CompileValue v = coerce(p, constants.eval(p.defaultValue(), Scope.of(out)), p.span(), decl.name());
                if (v == null) {
                    ok = false;
                } else {
                    out.put(p.name(), v);
                }
            } else {
                error(span, decl.name() + " is missing parameter '" + p.name() + ": " + p.type() + "'");
                ok = false;
            }
        }
        return ok ? out : null;
    }

    /** Checks a parameter value against its declared type; ints widen to float. */
    private CompileValue coerce(Ast.Param p, CompileValue v, Span span, String block) {
        if (v == null || v instanceof CompileValue.Poison) {
            return null;
        }
        CompileValue result = switch (p.type()) {
            case "int" -> v instanceof CompileValue.IntV ? v : null;
            case "float" ->
                v instanceof CompileValue.FloatV
                        ? v
                        : v instanceof CompileValue.IntV i ? new CompileValue.FloatV(i.value()) : null;
            case "bool" -> v instanceof CompileValue.BoolV ? v : null;
            case "string" -> v instanceof CompileValue.StrV ? v : null;
            case "shape" ->
                v instanceof CompileValue.ListV l && l.items().stream().allMatch(CompileValue.IntV.class::isInstance)
                        ? v
                        : null;
            default -> {
                error(p.span(), "unknown parameter type '" + p.type() + "' (int, float, bool, string, shape)");
                yield CompileValue.POISON;
            }
        };
        if (result == null) {
            error(span, block + ": parameter '" + p.name() + "' is " + p.type() + " but got " + v.describe());
            return null;
        }
        return result instanceof CompileValue.Poison ? null : result;
    }

    /** Processes block members in order; returns the forward member (if any). */
    private Ast.ForwardMember members(List<Ast.Member> members, ModuleInstance m, Scope scope) {
        Ast.ForwardMember forward = null;
        for (Ast.Member member : members) {
            switch (member) {
                case Ast.LetMember let -> {
                    CompileValue v = constants.eval(let.value(), scope);
                    m.env().put(let.name(), v);
                    scope.define(let.name(), v);
                }
                case Ast.WeightMember w -> {
                    int[] shape = shape(
                            constants.eval(w.shape(), scope), w.shape().span(), "weight " + String.join(".", w.path()));
                    if (shape != null) {
                        org.tessera.engine.io.WeightInit init =
                                w.init() == null ? null : initializer(w.init(), scope, shape);
                        ModuleInstance.WeightSpec spec = new ModuleInstance.WeightSpec(
                                m.prefix() + String.join(".", w.path()), shape, w.fixed(), init, w.span());
                        m.weights().add(spec);
                        m.env().put(String.join(".", w.path()), new CompileValue.WeightV(spec));
                    }
                }
                case Ast.SubMember s -> {
                    String path = String.join(".", s.path());
                    if (s.repeat() != null) {
                        CompileValue count = constants.eval(s.repeat(), scope);
                        if (!(count instanceof CompileValue.IntV n) || n.value() < 0) {
                            if (!(count instanceof CompileValue.Poison)) {
                                error(
                                        s.repeat().span(),
                                        "repeat count must be a non-negative int, got " + count.describe());
                            }
                            continue;
                        }
                        if (n.value() > Limits.MAX_BLOCK_INSTANCES) {
                            error(
                                    s.repeat().span(),
                                    "repeat count " + n.value() + " is more blocks than a model may hold ("
                                            + Limits.MAX_BLOCK_INSTANCES + ")");
                            m.env().put(path, CompileValue.POISON); // reported once, here, not at each use
                            continue;
                        }
                        List<ModuleInstance> list = new ArrayList<>();
                        for (int i = 0; i < n.value(); i++) {
                            Scope copy = scope;
                            if (s.index() != null) {
                                copy = new Scope(scope);
                                copy.define(s.index(), new CompileValue.IntV(i));
                            }
                            ModuleInstance sub = instantiate(s.call(), copy, m.prefix() + path + "." + i + ".");
                            if (sub == null) {
                                break; // the same error would repeat for every copy
                            }
                            list.add(sub);
                        }
                        m.env().put(path, new CompileValue.ModuleListV(list));
                    } else {
                        ModuleInstance sub = instantiate(s.call(), scope, m.prefix() + path + ".");
                        if (sub != null) {
                            m.env().put(path, new CompileValue.ModuleV(sub));
                        }
                    }
                }
                case Ast.IfMember i -> {
                    CompileValue c = constants.eval(i.condition(), scope);
                    if (c instanceof CompileValue.BoolV b) {
                        Ast.ForwardMember f = members(b.value() ? i.then() : i.otherwise(), m, scope);
                        if (f != null) {
                            forward = f;
                        }
                    } else if (!(c instanceof CompileValue.Poison)) {
                        error(i.condition().span(), "the condition of 'if' must be a bool, got " + c.describe());
                    }
                }
                case Ast.ContractMember c -> {
                    if (!m.contracts().isEmpty()) {
                        error(c.span(), m.declName() + " has more than one contract { ... }");
                    }
                    m.contracts().add(c);
                }
                case Ast.ForwardMember f -> {
                    if (forward != null) {
                        error(f.span(), m.declName() + " has more than one forward(...)");
                    }
                    forward = f;
                }
            }
        }
        return forward;
    }

    private int[] shape(CompileValue v, Span span, String what) {
        if (v instanceof CompileValue.Poison) {
            return null;
        }
        if (v instanceof CompileValue.ListV l) {
            int[] out = new int[l.items().size()];
            for (int i = 0; i < out.length; i++) {
                if (!(l.items().get(i) instanceof CompileValue.IntV iv)
                        || iv.value() < 0
                        || iv.value() > Integer.MAX_VALUE) {
                    error(
                            span,
                            what + ": dimension " + i + " must be an int in 0.." + Integer.MAX_VALUE + ", got "
                                    + l.items().get(i).describe());
                    return null;
                }
                out[i] = (int) iv.value();
            }
            if (org.tessera.engine.tensor.Shapes.boundedNumel(out) < 0) {
                error(span, what + ": " + Arrays.toString(out) + " has more than 2^36 elements");
                return null;
            }
            return out;
        }
        error(span, what + ": a shape must be a list like [out, in], got " + v.describe());
        return null;
    }

    /**
     * A weight's start, {@code = zeros()}, {@code ones()}, {@code normal(std = 0.02)},
     * {@code xavier_uniform(flatten = false)} or {@code sincos_2d(grid_h, grid_w)}, possibly chosen
     * by a compile-time {@code if … then … else …}; null after reporting what is wrong.
     */
    private org.tessera.engine.io.WeightInit initializer(Ast.Expr e, Scope scope, int[] shape) {
        if (e instanceof Ast.Cond c) {
            CompileValue cond = constants.eval(c.condition(), scope);
            if (cond instanceof CompileValue.BoolV b) {
                return initializer(b.value() ? c.then() : c.otherwise(), scope, shape);
            }
            if (!(cond instanceof CompileValue.Poison)) {
                error(c.condition().span(), "the condition of 'if' must be a bool, got " + cond.describe());
            }
            return null;
        }
        List<String> known = List.of("zeros", "ones", "constant", "normal", "xavier_uniform", "sincos_2d", "sincos_1d");
        if (!(e instanceof Ast.Call call) || !known.contains(call.dotted())) {
            error(
                    e.span(),
                    "a weight starts as zeros(), ones(), constant(value), normal(std = 0.02), xavier_uniform(), sincos_2d(grid_h,"
                            + " grid_w) or sincos_1d(length)"
                            + (e instanceof Ast.Call other ? Suggestions.didYouMean(other.dotted(), known) : ""));
            return null;
        }
        Map<String, CompileValue> args = new LinkedHashMap<>();
        List<String> order = switch (call.dotted()) {
            case "constant" -> List.of("value");
            case "normal" -> List.of("std");
            case "xavier_uniform" -> List.of("flatten");
            case "sincos_2d" -> List.of("grid_h", "grid_w");
            case "sincos_1d" -> List.of("length");
            default -> List.of();
        };
        int position = 0;
        for (Ast.Arg a : call.args()) {
            String name = a.name() != null ? a.name() : position < order.size() ? order.get(position++) : null;
            if (name == null || !order.contains(name)) {
                error(
                        a.span(),
                        call.dotted() + "(...) takes " + (order.isEmpty() ? "no arguments" : String.join(", ", order)));
                return null;
            }
            args.put(name, constants.eval(a.value(), scope));
        }
        try {
            return switch (call.dotted()) {
                case "zeros" -> new org.tessera.engine.io.WeightInit.Zeros();
                case "ones" -> new org.tessera.engine.io.WeightInit.Ones();
                case "constant" -> {
                    if (!args.containsKey("value")) {
                        throw new CompileError("constant(value) needs the value, e.g. constant(0.5)");
                    }
                    yield new org.tessera.engine.io.WeightInit.Constant(number(args.get("value")));
                }
                case "normal" ->
                    new org.tessera.engine.io.WeightInit.Normal(
                            number(args.getOrDefault("std", new CompileValue.FloatV(1.0))));
                case "xavier_uniform" -> {
                    if (shape.length < 2) {
                        throw new CompileError("xavier_uniform() needs a weight of rank 2 or more");
                    }
                    yield new org.tessera.engine.io.WeightInit.XavierUniform(
                            args.get("flatten") instanceof CompileValue.BoolV b && b.value());
                }
                case "sincos_1d" -> {
                    int n = (int) number(args.get("length"));
                    if (n < 1
                            || shape[shape.length - 1] % 2 != 0
                            || (long) n * shape[shape.length - 1] != org.tessera.engine.tensor.Shapes.numel(shape)) {
                        throw new CompileError("sincos_1d(" + n + ") does not fill a weight " + Arrays.toString(shape)
                                + " (length rows of an even width)");
                    }
                    yield new org.tessera.engine.io.WeightInit.SinCos1d(n);
                }
                default -> {
                    int h = (int) number(args.get("grid_h"));
                    int w = (int) number(args.get("grid_w"));
                    if (h < 1 || w < 1) {
                        throw new CompileError("sincos_2d(" + h + ", " + w + "): the grid must be at least 1 × 1");
                    }
                    if ((long) h * w * shape[shape.length - 1] != org.tessera.engine.tensor.Shapes.numel(shape)) {
                        throw new CompileError(
                                "sincos_2d(" + h + ", " + w + ") does not fill a weight " + Arrays.toString(shape));
                    }
                    yield new org.tessera.engine.io.WeightInit.SinCos2d(h, w);
                }
            };
        } catch (CompileError err) {
            error(call.span(), err.getMessage());
            return null;
        }
    }

    private static double number(CompileValue v) {
        return switch (v) {
            case CompileValue.IntV i -> i.value();
            case CompileValue.FloatV f -> f.value();
            case null -> throw new CompileError("a number is missing");
            default -> throw new CompileError("expected a number, got " + v.describe());
        };
    }

    /** The parameter names of block {@code name}, in order (empty for an unknown block). */
    public List<String> parameterNames(String name) {
        Ast.BlockDecl decl = program.blocks().get(name);
        return decl == null
                ? List.of()
                : decl.params().stream().map(Ast.Param::name).toList();
    }

    /** Whether the instance has a forward(...) to call (a block may only hold weights and sub-blocks). */
    public boolean hasForward(Model model) {
        return model.root.forward() != null;
    }

    /** The names of the instance's forward inputs, in order. */
    public List<String> forwardInputNames(Model model) {
        return model.root.forward() == null
                ? List.of()
                : model.root.forward().inputs().stream().map(Ast.Input::name).toList();
    }

    // ------------------------------------------------------------------ contract

    private static final java.util.Set<String> CONTRACT_KEYS = java.util.Set.of(
            "latent",
            "timestep",
            "label",
            "null_label",
            "label_dropout",
            "condition",
            "context",
            "predicts",
            "variance",
            "split_axis",
            "packed",
            "segments",
            "gather",
            "positions",
            "rotary",
            "position_table",
            "fractional",
            "rope_sections");

    /**
     * The root model's {@code contract { ... }}, checked against its forward inputs; null when it
     * declares none or after errors (reported).
     */
    public org.tessera.dsl.ModelContract contract(Model model) {
        ModuleInstance m = model.root;
        if (m.contracts().isEmpty()) {
            return null;
        }
        Ast.ContractMember c = m.contracts().get(0);
        int errors = diagnostics.errorCount();
        List<String> inputs = m.forward() == null
                ? List.of()
                : m.forward().inputs().stream().map(Ast.Input::name).toList();
        Map<String, Ast.ContractEntry> entries = new LinkedHashMap<>();
        for (Ast.ContractEntry e : c.entries()) {
            if (!CONTRACT_KEYS.contains(e.key())) {
                error(
                        e.span(),
                        "unknown contract entry '" + e.key() + "'" + Suggestions.didYouMean(e.key(), CONTRACT_KEYS)
                                + " (entries: " + String.join(", ", new java.util.TreeSet<>(CONTRACT_KEYS)) + ")");
            } else if (entries.putIfAbsent(e.key(), e) != null) {
                error(e.span(), "contract entry '" + e.key() + "' is given twice");
            }
        }
        String latent = role(entries.get("latent"), "latent", inputs, c.span(), true);
        String timestep = role(entries.get("timestep"), "timestep", inputs, c.span(), true);
        String label = role(entries.get("label"), "label", inputs, c.span(), false);
        String context = role(entries.get("context"), "context", inputs, c.span(), false);
        List<String> conditions = new ArrayList<>();
        Ast.ContractEntry cond = entries.get("condition");
        if (cond != null) {
            List<Ast.Expr> items = cond.value() instanceof Ast.ListLit l ? l.items() : List.of(cond.value());
            for (Ast.Expr item : items) {
                String name = inputName(item, "condition", inputs);
                if (name != null) {
                    conditions.add(name);
                }
            }
        }
        Scope scope = Scope.of(m.env());
        List<String> packingInputs = new ArrayList<>();
        org.tessera.dsl.ModelContract.Packing packing = packing(entries, inputs, scope, c.span(), packingInputs);
        java.util.Set<String> used = new java.util.HashSet<>();
        for (String r : java.util.stream.Stream.of(
                        java.util.stream.Stream.of(latent, timestep, label, context),
                        conditions.stream(),
                        packingInputs.stream())
                .flatMap(x -> x)
                .filter(java.util.Objects::nonNull)
                .toList()) {
            if (!used.add(r)) {
                error(c.span(), "forward input '" + r + "' has two roles in the contract");
            }
        }
        for (String in : inputs) {
            if (!used.contains(in) && latent != null && timestep != null) {
                error(
                        c.span(),
                        m.declName() + ".forward input '" + in + "' has no role in the contract"
                                + " (latent, timestep, label, context or condition"
                                + (packing != null ? ", or a packing input" : "") + ")");
            }
        }
        Long nullLabel = null;
        if (entries.get("null_label") != null) {
            CompileValue v = constants.eval(entries.get("null_label").value(), scope);
            // −1: no null class (DiT with class_dropout_prob = 0 has no row for one), as if not given.
            if (v instanceof CompileValue.IntV i && i.value() >= 0) {
                nullLabel = i.value();
            } else if (!(v instanceof CompileValue.Poison) && !(v instanceof CompileValue.IntV i && i.value() == -1)) {
                error(
                        entries.get("null_label").value().span(),
                        "null_label must be a non-negative int, or -1 for none, got " + v.describe());
            }
        }
        Double labelDropout = null;
        if (entries.get("label_dropout") != null) {
            CompileValue v = constants.eval(entries.get("label_dropout").value(), scope);
            double p = v instanceof CompileValue.FloatV f
                    ? f.value()
                    : v instanceof CompileValue.IntV i ? i.value() : Double.NaN;
            if (p >= 0 && p <= 1) {
                labelDropout = p;
            } else if (!(v instanceof CompileValue.Poison)) {
                error(
                        entries.get("label_dropout").value().span(),
                        "label_dropout must be a probability, got " + v.describe());
            }
        }
        org.tessera.dsl.ModelContract.Prediction prediction = choice(
                entries.get("predicts"),
                scope,
                Map.of(
                        "eps",
                        org.tessera.dsl.ModelContract.Prediction.EPS,
                        "x0",
                        org.tessera.dsl.ModelContract.Prediction.X0,
                        "v",
                        org.tessera.dsl.ModelContract.Prediction.V,
                        "flow",
                        org.tessera.dsl.ModelContract.Prediction.FLOW),
                org.tessera.dsl.ModelContract.Prediction.EPS,
                "predicts");
        org.tessera.engine.diffusion.VarianceType variance = choice(
                entries.get("variance"),
                scope,
                Map.of(
                        "fixed_small",
                        org.tessera.engine.diffusion.VarianceType.FIXED_SMALL,
                        "fixed_large",
                        org.tessera.engine.diffusion.VarianceType.FIXED_LARGE,
                        "learned_range",
                        org.tessera.engine.diffusion.VarianceType.LEARNED_RANGE),
                org.tessera.engine.diffusion.VarianceType.FIXED_LARGE,
                "variance");
        // A packed model's samplers see its latent as [R, L, C, p·p], channels on axis 2.
        int splitAxis = packing != null ? 2 : 1;
        if (entries.get("split_axis") != null && packing != null) {
            error(entries.get("split_axis").span(), "a packed model's channels are its tokens' own; drop split_axis");
        } else if (entries.get("split_axis") != null) {
            CompileValue v = constants.eval(entries.get("split_axis").value(), scope);
            if (v instanceof CompileValue.IntV i && i.value() >= 1 && i.value() <= 8) {
                splitAxis = (int) i.value();
            } else if (!(v instanceof CompileValue.Poison)) {
                error(
                        entries.get("split_axis").value().span(),
                        "split_axis must be an axis after the batch" + " (1 or more), got " + v.describe());
            }
        }
        if (context != null && (packing != null || splitAxis != 2)) {
            // the engine fills context frames along axis 1 with their channels (and the mask) on axis 2
            error(
                    entries.get("context").span(),
                    packing != null
                            ? "a packed model takes no context frames as yet"
                            : "context frames need clips in Latte's layout [B, F, C, H, W]: add  split_axis = 2");
        }
        if (diagnostics.errorCount() > errors) {
            return null;
        }
        return new org.tessera.dsl.ModelContract(
                latent,
                timestep,
                label,
                nullLabel,
                conditions,
                prediction,
                variance,
                splitAxis,
                packing,
                labelDropout,
                context);
    }

    /**
     * A packed model's contract entries ({@code packed = patch_size}, its segments, gather and
     * positions inputs), or null for a model of one size; the inputs it names go to {@code used}.
     */
    private org.tessera.dsl.ModelContract.Packing packing(
            Map<String, Ast.ContractEntry> entries,
            List<String> inputs,
            Scope scope,
            Span contract,
            List<String> used) {
        List<String> keys =
                List.of("segments", "gather", "positions", "rotary", "position_table", "fractional", "rope_sections");
        if (entries.get("packed") == null) {
            for (String k : keys) {
                if (entries.get(k) != null) {
                    error(
                            entries.get(k).span(),
                            "contract entry '" + k + "' belongs to a packed model: add  packed = patch_size");
                }
            }
            return null;
        }
        boolean rotaryKind = entries.get("rotary") != null;
        boolean learnedKind =
                entries.get("positions") != null && entries.get("positions").value() instanceof Ast.ListLit;
        for (String k : List.of("position_table", "fractional", "rope_sections")) {
            boolean fits = k.equals("rope_sections") ? rotaryKind : learnedKind;
            if (entries.get(k) != null && !fits) {
                error(
                        entries.get(k).span(),
                        "contract entry '" + k + "' belongs to "
                                + (k.equals("rope_sections")
                                        ? "rotary = [cos, sin]"
                                        : "learned positions = [rows, cols]"));
            }
        }
        if (entries.get("condition") != null) {
            error(entries.get("condition").span(), "a packed model takes no condition inputs as yet");
        }
        CompileValue p = constants.eval(entries.get("packed").value(), scope);
        int patch = 0;
        if (p instanceof CompileValue.IntV i && i.value() >= 1 && i.value() <= 1 << 10) {
            patch = (int) i.value();
        } else if (!(p instanceof CompileValue.Poison)) {
            error(entries.get("packed").value().span(), "packed must be the patch side (1..1024), got " + p.describe());
        }
        String segments = role(entries.get("segments"), "segments", inputs, contract, true);
        String gather = role(entries.get("gather"), "gather", inputs, contract, true);
        if (segments != null) {
            used.add(segments);
        }
        if (gather != null) {
            used.add(gather);
        }
        Ast.ContractEntry pos = entries.get("positions");
        Ast.ContractEntry rotary = entries.get("rotary");
        org.tessera.dsl.ModelContract.Positions positions = null;
        if ((pos == null) == (rotary == null)) {
            error(
                    contract,
                    "a packed model's contract names its positions: positions = pos (sin-cos),"
                            + " positions = [rows, cols] (learned tables) or rotary = [cos, sin]");
        } else if (rotary != null) {
            List<String> pair = pair(rotary, "rotary", inputs);
            int[] sections = null;
            if (entries.get("rope_sections") == null) {
                error(rotary.span(), "rotary positions need rope_sections = [t, h, w] (the head width's split)");
            } else {
                CompileValue v = constants.eval(entries.get("rope_sections").value(), scope);
                if (v instanceof CompileValue.ListV l
                        && l.items().size() == 3
                        && l.items().stream().allMatch(x -> x instanceof CompileValue.IntV i && i.value() >= 0)) {
                    sections = l.items().stream()
                            .mapToInt(x -> (int) ((CompileValue.IntV) x).value())
                            .toArray();
                } else if (!(v instanceof CompileValue.Poison)) {
                    error(
                            entries.get("rope_sections").value().span(),
                            "rope_sections must be three widths [t, h, w], got " + v.describe());
                }
            }
            if (pair != null) {
                used.addAll(pair);
            }
            if (sections != null && java.util.Arrays.stream(sections).anyMatch(v -> v % 2 != 0)) {
                error(
                        entries.get("rope_sections").value().span(),
                        "rope_sections must be even widths (a rotation turns pairs), got "
                                + java.util.Arrays.toString(sections));
                sections = null;
            }
            if (pair != null && sections != null) {
                positions = new org.tessera.dsl.ModelContract.Positions.Rotary(pair.get(0), pair.get(1), sections);
            }
        } else if (pos.value() instanceof Ast.ListLit) {
            List<String> pair = pair(pos, "positions", inputs);
            long table = 0;
            if (entries.get("position_table") == null) {
                error(pos.span(), "learned positions need position_table = N (the rows of each table)");
            } else if (constants.eval(entries.get("position_table").value(), scope) instanceof CompileValue.IntV i
                    && i.value() >= 1) {
                table = i.value();
            } else {
                error(entries.get("position_table").value().span(), "position_table must be a positive int");
            }
            boolean fractional = true;
            if (entries.get("fractional") != null) {
                if (constants.eval(entries.get("fractional").value(), scope) instanceof CompileValue.BoolV b) {
                    fractional = b.value();
                } else {
                    error(entries.get("fractional").value().span(), "fractional must be true or false");
                }
            }
            if (pair != null) {
                used.addAll(pair);
            }
            if (pair != null && table > 0) {
                positions = new org.tessera.dsl.ModelContract.Positions.Learned(
                        pair.get(0), pair.get(1), (int) table, fractional);
            }
        } else {
            String name = inputName(pos.value(), "positions", inputs);
            if (name != null) {
                used.add(name);
            }
            positions = name == null ? null : new org.tessera.dsl.ModelContract.Positions.SinCos(name);
        }
        return patch == 0 || segments == null || gather == null || positions == null
                ? null
                : new org.tessera.dsl.ModelContract.Packing(patch, segments, gather, positions);
    }

    /** Two forward inputs, {@code [a, b]}, or null after an error. */
    private List<String> pair(Ast.ContractEntry e, String role, List<String> inputs) {
        if (!(e.value() instanceof Ast.ListLit l) || l.items().size() != 2) {
            error(e.value().span(), "contract: " + role + " must name two forward inputs, e.g. [a, b]");
            return null;
        }
        String a = inputName(l.items().get(0), role, inputs);
        String b = inputName(l.items().get(1), role, inputs);
        return a == null || b == null ? null : List.of(a, b);
    }

    private String role(Ast.ContractEntry e, String role, List<String> inputs, Span contract, boolean required) {
        if (e == null) {
            if (required) {
                error(
                        contract,
                        "the contract does not say which forward input is the " + role + ": add  " + role
                                + " = <input name>");
            }
            return null;
        }
        return inputName(e.value(), role, inputs);
    }

    private String inputName(Ast.Expr e, String role, List<String> inputs) {
        if (e instanceof Ast.Name n && n.path().size() == 1 && inputs.contains(n.dotted())) {
            return n.dotted();
        }
        error(e.span(), "contract: " + role + " must name a forward input (" + String.join(", ", inputs) + ")");
        return null;
    }

    private <T> T choice(Ast.ContractEntry e, Scope scope, Map<String, T> options, T fallback, String key) {
        if (e == null) {
            return fallback;
        }
        CompileValue v = constants.eval(e.value(), scope);
        if (v instanceof CompileValue.StrV s && options.containsKey(s.value())) {
            return options.get(s.value());
        }
        if (!(v instanceof CompileValue.Poison)) {
            error(
                    e.value().span(),
                    key + " must be one of "
                            + String.join(
                                    ", ",
                                    new java.util.TreeSet<>(options.keySet())
                                            .stream().map(k -> "\"" + k + "\"").toList())
                            + ", got "
                            + v.describe());
        }
        return fallback;
    }

    // ------------------------------------------------------------------ forward inputs

    /**
     * The root forward's inputs with shapes resolved: annotated sizes are evaluated in the
     * model's environment and unknown names (the batch {@code B}) take their value from
     * {@code symbols}. Inputs without an annotation get a null shape.
     */
    public List<InputSpec> inputs(Model model, Map<String, Integer> symbols) {
        calls.push(model.call);
        try {
            return inputs(model.root, symbols);
        } finally {
            calls.pop();
        }
    }

    /** The symbolic sizes (B, R, L, ...) the forward's input annotations name, in order of appearance. */
    public java.util.Set<String> shapeSymbols(Model model) {
        java.util.Set<String> out = new java.util.LinkedHashSet<>();
        ModuleInstance m = model.root;
        if (m.forward() == null) {
            return out;
        }
        for (Ast.Input in : m.forward().inputs()) {
            Ast.Expr e = in.shape();
            if (e instanceof Ast.Call c && c.args().size() == 1) {
                e = c.args().get(0).value();
            }
            if (e instanceof Ast.ListLit list) {
                for (Ast.Expr item : list.items()) {
                    if (item instanceof Ast.Name n
                            && n.path().size() == 1
                            && !m.env().containsKey(n.dotted())) {
                        out.add(n.dotted());
                    }
                }
            }
        }
        return out;
    }

    private List<InputSpec> inputs(ModuleInstance m, Map<String, Integer> symbols) {
        List<InputSpec> out = new ArrayList<>();
        if (m.forward() == null) {
            return out;
        }
        for (Ast.Input in : m.forward().inputs()) {
            if (in.shape() == null) {
                out.add(new InputSpec(in.name(), null, DType.F32));
                continue;
            }
            Ast.Expr e = in.shape();
            DType dtype = DType.F32;
            if (e instanceof Ast.Call c
                    && c.callee().size() == 1
                    && c.args().size() == 1
                    && dtypeOf(c.dotted()) != null) {
                dtype = dtypeOf(c.dotted());
                e = c.args().get(0).value();
            }
            if (!(e instanceof Ast.ListLit list)) {
                error(e.span(), "an input shape must be a list like [B, C, H, W]");
                out.add(new InputSpec(in.name(), null, dtype));
                continue;
            }
            int[] shape = new int[list.items().size()];
            for (int i = 0; i < shape.length; i++) {
                Ast.Expr item = list.items().get(i);
                if (item instanceof Ast.Name n
                        && n.path().size() == 1
                        && !m.env().containsKey(n.dotted())) {
                    // A symbolic size (B, H, W): known only when the caller binds it.
                    shape[i] = symbols.getOrDefault(n.dotted(), -1);
                } else {
                    CompileValue v = constants.eval(item, Scope.of(m.env()));
                    shape[i] = v instanceof CompileValue.IntV iv ? size(iv.value(), in.name(), i, item) : -1;
                }
            }
            if (Arrays.stream(shape).allMatch(x -> x >= 0)
                    && org.tessera.engine.tensor.Shapes.boundedNumel(shape) < 0) {
                error(e.span(), "input '" + in.name() + "' " + Arrays.toString(shape) + " has more than 2^36 elements");
                shape = null;
            }
            out.add(new InputSpec(in.name(), shape, dtype));
        }
        return out;
    }

    /** A declared size: positive and an int, else an error at the annotation (−1: not known). */
    private int size(long value, String input, int dim, Ast.Expr item) {
        if (value >= 1 && value <= Integer.MAX_VALUE) {
            return (int) value;
        }
        error(
                item.span(),
                "input '" + input + "' dimension " + dim + " is " + source(item) + " = " + value
                        + "; a size must be between 1 and " + Integer.MAX_VALUE);
        return -1;
    }

    private static DType dtypeOf(String name) {
        return switch (name) {
            case "f32" -> DType.F32;
            case "i64" -> DType.I64;
            case "bf16" -> DType.BF16;
            case "f16" -> DType.F16;
            default -> null;
        };
    }

    // ------------------------------------------------------------------ lowering

    /**
     * Lowers the model's forward pass applied to {@code inputs}; weights come from
     * {@code weights}. Returns the output value, or null after errors (see the diagnostics).
     */
    public Value lower(Model model, GraphBuilder graph, List<Value> inputs, WeightSource weights, Span callSpan) {
        return lower(model, graph, inputs, weights, callSpan, key -> false);
    }

    /**
     * {@link #lower}, with every learned (not {@code fixed}) weight whose key {@code trainable}
     * accepts a graph input named by its key: a training step feeds their current values; fixed
     * and frozen tensors stay constants from {@code weights}.
     */
    public Value lower(
            Model model,
            GraphBuilder graph,
            List<Value> inputs,
            WeightSource weights,
            Span callSpan,
            java.util.function.Predicate<String> trainable) {
        Map<String, Value> weightValues = new HashMap<>();
        Evaluator.WeightLowering lowering = spec -> weightValues.computeIfAbsent(
                spec.key(),
                k -> !spec.fixed() && trainable.test(k)
                        ? graph.input(k, DType.F32, spec.shape())
                        : graph.constant(k, weights.tensor(k, spec.shape())));
        Lowering l = new Lowering(graph, lowering);
        List<CompileValue> args = new ArrayList<>();
        for (Value v : inputs) {
            args.add(new CompileValue.TensorV(v));
        }
        CompileValue out;
        try {
            out = l.invoke(model.root, args, new Ast.Call(List.of(model.name()), List.of(), callSpan));
        } catch (CompileError e) { // a block that cannot be called at all, e.g. one without forward(...)
            error(callSpan, e.getMessage());
            return null;
        } catch (StackOverflowError e) { // evaluation recurses once per level of nesting
            error(callSpan, org.tessera.dsl.parser.TesseraParserFacade.TOO_DEEP);
            return null;
        } catch (GraphTooLargeException e) { // names the line where it was still growing
            error(callSpan, model.name() + ": " + e.getMessage());
            return null;
        }
        if (out instanceof CompileValue.TensorV t) {
            return t.value();
        }
        if (!(out instanceof CompileValue.Poison)) {
            error(callSpan, model.name() + ".forward returned " + out.describe() + ", not a tensor");
        }
        return null;
    }

    /** Lowers forward bodies; one per model lowering. */
    private final class Lowering implements Evaluator.ModuleInvoker {
        private final Evaluator evaluator;
        private int depth;

        Lowering(GraphBuilder graph, Evaluator.WeightLowering weights) {
            this.evaluator = new Evaluator(diagnostics, graph, this, weights);
        }

        @Override
        public CompileValue invoke(ModuleInstance m, List<CompileValue> args, Ast.Call call) {
            Ast.ForwardMember f = m.forward();
            if (f == null) {
                throw new CompileError(m.declName() + " has no forward(...) and cannot be called");
            }
            if (args.size() != f.inputs().size()) {
                throw new CompileError(m.declName() + ".forward takes "
                        + f.inputs().size() + " input"
                        + (f.inputs().size() == 1 ? "" : "s") + " ("
                        + String.join(
                                ", ", f.inputs().stream().map(Ast.Input::name).toList()) + ") but " + args.size()
                        + " were given");
            }
            if (++depth > 64) {
                depth = 0;
                throw new CompileError("blocks call each other more than 64 levels deep (recursion?)");
            }
            evaluator.enter(call);
            try {
                Scope scope = new Scope(Scope.of(m.env()));
                Map<String, Integer> symbols = new HashMap<>();
                for (int i = 0; i < args.size(); i++) {
                    Ast.Input in = f.inputs().get(i);
                    checkInputShape(m, in, args.get(i), symbols, call);
                    scope.define(in.name(), args.get(i));
                }
                CompileValue result = run(f.body(), scope);
                if (result == null) {
                    evaluator.report(f.span(), m.declName() + ".forward ends without 'return'");
                    return CompileValue.POISON;
                }
                return result;
            } catch (CompileError | ShapeMismatchException e) {
                evaluator.report(call.span(), e.getMessage());
                return CompileValue.POISON;
            } finally {
                evaluator.exit();
                depth--;
            }
        }

        /** Checks an argument against the input's annotation; names unknown to the block are symbols bound on first use. */
        private void checkInputShape(
                ModuleInstance m, Ast.Input in, CompileValue arg, Map<String, Integer> symbols, Ast.Call call) {
            if (in.shape() == null || !(arg instanceof CompileValue.TensorV || arg instanceof CompileValue.WeightV)) {
                return;
            }
            Ast.Expr e = in.shape();
            if (e instanceof Ast.Call c && c.args().size() == 1 && dtypeOf(c.dotted()) != null) {
                e = c.args().get(0).value();
            }
            if (!(e instanceof Ast.ListLit list)) {
                return;
            }
            int[] actual = evaluator.tensor(arg, "input").shape();
            String expected =
                    list.items().stream().map(ModelCompiler::source).toList().toString();
            if (actual.length != list.items().size()) {
                throw new CompileError(m.declName() + ".forward: input '" + in.name() + "' should be " + expected
                        + " but is " + Arrays.toString(actual));
            }
            for (int i = 0; i < actual.length; i++) {
                Ast.Expr item = list.items().get(i);
                int want;
                if (item instanceof Ast.Name n
                        && n.path().size() == 1
                        && !m.env().containsKey(n.dotted())) {
                    Integer bound = symbols.putIfAbsent(n.dotted(), actual[i]);
                    want = bound == null ? actual[i] : bound;
                } else {
                    CompileValue v = constants.eval(item, Scope.of(m.env()));
                    if (!(v instanceof CompileValue.IntV iv)) {
                        return;
                    }
                    want = Math.toIntExact(iv.value());
                }
                if (want != actual[i]) {
                    throw new CompileError(m.declName() + ".forward: input '" + in.name() + "' should be " + expected
                            + " but is " + Arrays.toString(actual) + " (dimension " + i + ": expected " + want
                            + ", got " + actual[i] + ")");
                }
            }
        }

        /** Runs statements; returns the returned value, or null when the body falls off its end. */
        private CompileValue run(List<Ast.Stmt> body, Scope scope) {
            for (Ast.Stmt s : body) {
                switch (s) {
                    case Ast.Let let -> bind(let.names(), evaluator.eval(let.value(), scope), scope, true, let.span());
                    case Ast.Assign a -> bind(a.names(), evaluator.eval(a.value(), scope), scope, false, a.span());
                    case Ast.Return r -> {
                        return evaluator.eval(r.value(), scope);
                    }
                    case Ast.If i -> {
                        CompileValue c = evaluator.eval(i.condition(), scope);
                        if (c instanceof CompileValue.BoolV b) {
                            CompileValue r = run(b.value() ? i.then() : i.otherwise(), new Scope(scope));
                            if (r != null) {
                                return r;
                            }
                        } else if (!(c instanceof CompileValue.Poison)) {
                            evaluator.report(
                                    i.condition().span(),
                                    "'if' in a forward body needs a compile-time bool, got " + c.describe());
                        }
                    }
                    case Ast.For f -> {
                        CompileValue coll = scope.lookup(String.join(".", f.collection()));
                        if (coll instanceof CompileValue.Poison) {
                            continue; // already reported where it was made
                        }
                        if (!(coll instanceof CompileValue.ModuleListV list)) {
                            evaluator.report(
                                    f.span(),
                                    "'for' iterates over a repeated sub-block list; '"
                                            + String.join(".", f.collection()) + "' is "
                                            + (coll == null ? "not defined" : coll.describe()));
                            continue;
                        }
                        for (int i = 0; i < list.modules().size(); i++) {
                            Scope inner = new Scope(scope);
                            inner.define(
                                    f.item(),
                                    new CompileValue.ModuleV(list.modules().get(i)));
                            if (f.index() != null) {
                                inner.define(f.index(), new CompileValue.IntV(i));
                            }
                            CompileValue r = run(f.body(), inner);
                            if (r != null) {
                                return r;
                            }
                        }
                    }
                }
            }
            return null;
        }

        /** let/assign with tuple destructuring: a list, or a tensor unbound along its first dimension. */
        private void bind(List<String> names, CompileValue v, Scope scope, boolean define, Span span) {
            List<CompileValue> values;
            if (names.size() == 1) {
                values = List.of(v);
            } else if (v instanceof CompileValue.Poison) {
                values = java.util.Collections.nCopies(names.size(), v);
            } else if (v instanceof CompileValue.ListV l) {
                values = l.items();
            } else if (v instanceof CompileValue.TensorV t) {
                values = unbind(t.value(), names.size(), span);
            } else {
                evaluator.report(span, "cannot unpack " + v.describe() + " into " + names.size() + " names");
                values = java.util.Collections.nCopies(names.size(), CompileValue.POISON);
            }
            if (values.size() != names.size()) {
                evaluator.report(
                        span,
                        "cannot unpack " + values.size() + " values into " + names.size() + " names ("
                                + String.join(", ", names) + ")");
                values = java.util.Collections.nCopies(names.size(), CompileValue.POISON);
            }
            for (int i = 0; i < names.size(); i++) {
                if (define) {
                    scope.define(names.get(i), values.get(i));
                } else if (!scope.assign(names.get(i), values.get(i))) {
                    evaluator.report(
                            span, "'" + names.get(i) + "' is not defined; use 'let " + names.get(i) + " = ...'");
                }
            }
        }

        private List<CompileValue> unbind(Value t, int n, Span span) {
            if (t.rank() == 0 || t.size(0) != n) {
                evaluator.report(
                        span,
                        "cannot unpack a tensor " + Arrays.toString(t.shape()) + " into " + n
                                + " names: its first dimension must be " + n);
                return java.util.Collections.nCopies(n, CompileValue.POISON);
            }
            try {
                GraphBuilder g = evaluator.graph();
                int[] rest = Arrays.copyOfRange(t.shape(), 1, t.rank());
                List<CompileValue> out = new ArrayList<>();
                for (Value part : g.chunk(t, n, 0)) {
                    out.add(new CompileValue.TensorV(g.reshape(part, rest)));
                }
                return out;
            } catch (ShapeMismatchException e) {
                evaluator.report(span, e.getMessage());
                return java.util.Collections.nCopies(n, CompileValue.POISON);
            }
        }
    }

    private static String source(Ast.Expr e) {
        return switch (e) {
            case Ast.Name n -> n.dotted();
            case Ast.IntLit i -> Long.toString(i.value());
            default -> "…";
        };
    }
}
