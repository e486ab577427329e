package org.tessera.dsl.sema;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tessera.dsl.ast.Ast;
import org.tessera.dsl.diag.Diagnostics;
import org.tessera.engine.graph.GraphBuilder;
import org.tessera.engine.graph.Value;
import org.tessera.engine.tensor.ShapeMismatchException;

/**
 * Evaluates expressions: compile-time arithmetic on numbers, lists and strings, and — inside a
 * forward body, when a graph is being built — tensor arithmetic and built-in calls, which add
 * nodes to the graph. Every error is reported at the expression's span and yields
 * {@link CompileValue#POISON}, which later uses pass through silently.
 */
final class Evaluator implements LoweringContext {

    /** Calls a sub-block's forward. */
    interface ModuleInvoker {
        CompileValue invoke(ModuleInstance module, List<CompileValue> args, Ast.Call call);
    }

    /** Turns a weight into a graph constant. */
    interface WeightLowering {
        Value constant(ModuleInstance.WeightSpec spec);
    }

    private final Diagnostics diagnostics;
    /** Spans of the sub-block calls being lowered, innermost last. */
    private final java.util.ArrayDeque<Ast.Call> calls = new java.util.ArrayDeque<>();

    private final GraphBuilder graph;
    private final ModuleInvoker invoker;
    private final WeightLowering weights;

    Evaluator(Diagnostics diagnostics, GraphBuilder graph, ModuleInvoker invoker, WeightLowering weights) {
        this.diagnostics = diagnostics;
        this.graph = graph;
        this.invoker = invoker;
        this.weights = weights;
    }

    /** An evaluator for compile-time expressions only (block parameters, lets, shapes). */
    static Evaluator constantsOnly(Diagnostics diagnostics) {
        return new Evaluator(diagnostics, null, null, null);
    }

    @Override
    public GraphBuilder graph() {
        if (graph == null) {
            throw new CompileError("tensor operations are only allowed inside forward(...)");
        }
        return graph;
    }

    @Override
    public Value tensor(CompileValue v, String what) {
        return switch (v) {
            case CompileValue.TensorV t -> t.value();
            case CompileValue.WeightV w -> {
                if (weights == null) {
                    throw new CompileError("weights can only be used inside forward(...)");
                }
                yield weights.constant(w.spec());
            }
            default -> throw new CompileError(what + " must be a tensor, got " + v.describe());
        };
    }

    CompileValue eval(Ast.Expr e, Scope scope) {
        try {
            if (graph != null) {
                graph.at(e.span().toString());
            }
            return switch (e) {
                case Ast.IntLit i -> new CompileValue.IntV(i.value());
                case Ast.FloatLit f -> new CompileValue.FloatV(f.value());
                case Ast.StringLit s -> new CompileValue.StrV(s.value());
                case Ast.BoolLit b -> new CompileValue.BoolV(b.value());
                case Ast.ListLit l -> {
                    List<CompileValue> items = new ArrayList<>();
                    for (Ast.Expr item : l.items()) {
                        items.add(eval(item, scope));
                    }
                    yield items.stream().anyMatch(CompileValue.Poison.class::isInstance)
                            ? CompileValue.POISON
                            : new CompileValue.ListV(items);
                }
                case Ast.Name n -> lookup(n, scope);
                case Ast.Call c -> call(c, scope);
                case Ast.Unary u -> unary(u, eval(u.operand(), scope));
                case Ast.Index ix -> index(eval(ix.target(), scope), eval(ix.index(), scope));
                case Ast.Binary b -> binary(b, scope);
                case Ast.Cond c -> {
                    CompileValue cond = eval(c.condition(), scope);
                    if (cond instanceof CompileValue.Poison) {
                        yield cond;
                    }
                    if (!(cond instanceof CompileValue.BoolV bv)) {
                        throw new CompileError("the condition of 'if' must be a bool, got " + cond.describe());
                    }
                    yield eval(bv.value() ? c.then() : c.otherwise(), scope);
                }
            };
        } catch (CompileError | ShapeMismatchException | ArithmeticException err) {
            report(e.span(), err.getMessage());
            return CompileValue.POISON;
        }
    }

    void enter(Ast.Call call) {
        calls.addLast(call);
    }

    void exit() {
        calls.removeLast();
    }

    /**
     * Reports at {@code span}, unless it lies in the standard library: then at the innermost call
     * in the user's own files that led there, so the message points at a line the user wrote.
     */
    void report(org.tessera.dsl.diag.Span span, String message) {
        if (span.file().startsWith("stdlib/")) {
            var it = calls.descendingIterator();
            while (it.hasNext()) {
                Ast.Call c = it.next();
                if (!c.span().file().startsWith("stdlib/")) {
                    diagnostics.error(c.span(), message + " (in " + c.dotted() + ", at " + span + ")");
                    return;
                }
            }
        }
        diagnostics.error(span, message);
    }

    private CompileValue lookup(Ast.Name n, Scope scope) {
        CompileValue v = scope.lookup(n.dotted());
        if (v != null) {
            return v;
        }
        // a.b.c where a is a sub-block: look inside it
        CompileValue head = scope.lookup(n.path().get(0));
        if (head instanceof CompileValue.ModuleV m && n.path().size() > 1) {
            CompileValue inner = m.module()
                    .env()
                    .get(String.join(".", n.path().subList(1, n.path().size())));
            if (inner != null) {
                return inner;
            }
        }
        throw new CompileError("unknown name '" + n.dotted() + "'" + Suggestions.didYouMean(n.dotted(), scope.names()));
    }

    private CompileValue call(Ast.Call c, Scope scope) {
        CompileValue callee = scope.lookup(c.dotted());
        if (callee instanceof CompileValue.ModuleV m) {
            if (invoker == null) {
                throw new CompileError("sub-blocks can only be called inside forward(...)");
            }
            List<CompileValue> args = new ArrayList<>();
            for (Ast.Arg a : c.args()) {
                if (a.name() != null) {
                    throw new CompileError(
                            "sub-block calls take positional arguments only; remove '" + a.name() + " ='");
                }
                CompileValue v = eval(a.value(), scope);
                if (v instanceof CompileValue.Poison) {
                    return v;
                }
                args.add(v);
            }
            return invoker.invoke(m.module(), args, c);
        }
        if (callee != null) {
            throw new CompileError(
                    "'" + c.dotted() + "' is " + callee.describe() + ", not something that can be called");
        }
        Builtin b = c.callee().size() == 1 ? Builtins.get(c.dotted()) : null;
        if (b == null) {
            throw new CompileError("unknown function '" + c.dotted() + "'"
                    + Suggestions.didYouMean(c.dotted(), Builtins.all().keySet()));
        }
        Signature sig = b.signature();
        String problem = sig.checkShape(c.args());
        if (problem != null) {
            throw new CompileError(problem);
        }
        CompileValue[] values = new CompileValue[sig.params().size()];
        Map<String, CompileValue> extra = new LinkedHashMap<>();
        int position = 0;
        for (Ast.Arg a : c.args()) {
            CompileValue v = eval(a.value(), scope);
            if (v instanceof CompileValue.Poison) {
                return v;
            }
            if (a.name() == null) {
                values[position++] = v;
            } else {
                int i = sig.params().indexOf(a.name());
                if (i >= 0) {
                    values[i] = v;
                } else {
                    extra.put(a.name(), v);
                }
            }
        }
        if (graph != null) {
            graph.at(c.span().toString());
        }
        return b.apply(this, new BoundArgs(sig, values, extra, this));
    }

    /** {@code xs[i]} on a compile-time list, Python's way: {@code xs[-1]} is the last item. */
    private static CompileValue index(CompileValue target, CompileValue index) {
        if (target instanceof CompileValue.Poison || index instanceof CompileValue.Poison) {
            return CompileValue.POISON;
        }
        if (!(target instanceof CompileValue.ListV list)) {
            throw new CompileError("only a list can be indexed, got " + target.describe());
        }
        if (!(index instanceof CompileValue.IntV i)) {
            throw new CompileError("a list index must be an int, got " + index.describe());
        }
        int n = list.items().size();
        long at = i.value() < 0 ? i.value() + n : i.value();
        if (at < 0 || at >= n) {
            throw new CompileError("index " + i.value() + " is out of range for a list of " + n);
        }
        return list.items().get((int) at);
    }

    private CompileValue unary(Ast.Unary u, CompileValue v) {
        return switch (v) {
            case CompileValue.Poison p -> p;
            case CompileValue.IntV i when u.op().equals("-") -> new CompileValue.IntV(-i.value());
            case CompileValue.FloatV f when u.op().equals("-") -> new CompileValue.FloatV(-f.value());
            case CompileValue.BoolV b when u.op().equals("not") -> new CompileValue.BoolV(!b.value());
            case CompileValue.TensorV t
            when u.op().equals("-") -> TensorBuiltins.tensor(graph().mulScalar(t.value(), -1f));
            case CompileValue.WeightV w
            when u.op().equals("-") -> TensorBuiltins.tensor(graph().mulScalar(tensor(w, "operand"), -1f));
            default -> throw new CompileError("operator '" + u.op() + "' does not apply to " + v.describe());
        };
    }

    private CompileValue binary(Ast.Binary b, Scope scope) {
        String op = b.op();
        if (op.equals("and") || op.equals("or")) {
            CompileValue l = eval(b.left(), scope);
            if (l instanceof CompileValue.Poison) {
                return l;
            }
            if (!(l instanceof CompileValue.BoolV lb)) {
                throw new CompileError("'" + op + "' needs bools, got " + l.describe());
            }
            if (op.equals("and") != lb.value()) {
                return lb; // short-circuit
            }
            CompileValue r = eval(b.right(), scope);
            if (r instanceof CompileValue.Poison || r instanceof CompileValue.BoolV) {
                return r;
            }
            throw new CompileError("'" + op + "' needs bools, got " + r.describe());
        }
        CompileValue l = eval(b.left(), scope);
        CompileValue r = eval(b.right(), scope);
        if (l instanceof CompileValue.Poison || r instanceof CompileValue.Poison) {
            return CompileValue.POISON;
        }
        boolean lt = isTensor(l);
        boolean rt = isTensor(r);
        if (lt || rt) {
            return tensorBinary(op, l, r, lt, rt);
        }
        return Arithmetic.apply(op, l, r);
    }

    private static boolean isTensor(CompileValue v) {
        return v instanceof CompileValue.TensorV || v instanceof CompileValue.WeightV;
    }

    private CompileValue tensorBinary(String op, CompileValue l, CompileValue r, boolean lt, boolean rt) {
        GraphBuilder g = graph();
        if (lt && rt) {
            Value a = tensor(l, "left operand of '" + op + "'");
            Value c = tensor(r, "right operand of '" + op + "'");
            return TensorBuiltins.tensor(
                    switch (op) {
                        case "+" -> g.add(a, c);
                        case "-" -> g.sub(a, c);
                        case "*" -> g.mul(a, c);
                        case "/" -> g.div(a, c);
                        default -> throw new CompileError("operator '" + op + "' does not apply to two tensors");
                    });
        }
        Value t = tensor(lt ? l : r, "operand of '" + op + "'");
        float s = (float) Arithmetic.number(lt ? r : l, op);
        return TensorBuiltins.tensor(
                switch (op) {
                    case "+" -> g.addScalar(t, s);
                    case "*" -> g.mulScalar(t, s);
                    case "-" -> lt ? g.addScalar(t, -s) : g.addScalar(g.mulScalar(t, -1f), s);
                    case "/" -> {
                        if (!lt) {
                            throw new CompileError(
                                    "dividing a number by a tensor is not supported; write 1 / x as a tensor op");
                        }
                        yield g.mulScalar(t, 1f / s);
                    }
                    default -> throw new CompileError("operator '" + op + "' does not apply to a tensor and a number");
                });
    }
}
