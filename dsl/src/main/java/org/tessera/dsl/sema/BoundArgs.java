package org.tessera.dsl.sema;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.tessera.engine.graph.Value;

/**
 * A built-in's arguments bound to its parameter names, with typed accessors that throw a
 * {@link CompileError} naming the function and parameter on a type mismatch.
 */
final class BoundArgs {
    private final Signature signature;
    private final CompileValue[] values;
    private final Map<String, CompileValue> extra;
    private final LoweringContext ctx;

    BoundArgs(Signature signature, CompileValue[] values, Map<String, CompileValue> extra, LoweringContext ctx) {
        this.signature = signature;
        this.values = values;
        this.extra = extra;
        this.ctx = ctx;
    }

    boolean has(String name) {
        return values[index(name)] != null;
    }

    CompileValue raw(String name) {
        return values[index(name)];
    }

    Map<String, CompileValue> extra() {
        return extra;
    }

    Value tensor(String name) {
        CompileValue v = values[index(name)];
        if (v == null) {
            throw new CompileError(signature.name() + ": missing tensor argument '" + name + "'");
        }
        return ctx.tensor(v, signature.name() + " argument '" + name + "'");
    }

    /** The tensor, or null when the argument was not given. */
    Value optionalTensor(String name) {
        return has(name) ? tensor(name) : null;
    }

    long integer(String name, long fallback) {
        CompileValue v = values[index(name)];
        return v == null ? fallback : integer(name, v);
    }

    long integer(String name) {
        CompileValue v = values[index(name)];
        if (v == null) {
            throw new CompileError(signature.name() + ": missing argument '" + name + "'");
        }
        return integer(name, v);
    }

    private long integer(String name, CompileValue v) {
        if (v instanceof CompileValue.IntV i) {
            return i.value();
        }
        throw new CompileError(signature.name() + ": argument '" + name + "' must be an int, got " + v.describe());
    }

    int intValue(String name) {
        return Math.toIntExact(integer(name));
    }

    int intValue(String name, int fallback) {
        return Math.toIntExact(integer(name, fallback));
    }

    double number(String name, double fallback) {
        CompileValue v = values[index(name)];
        if (v == null) {
            return fallback;
        }
        return switch (v) {
            case CompileValue.IntV i -> i.value();
            case CompileValue.FloatV f -> f.value();
            default ->
                throw new CompileError(
                        signature.name() + ": argument '" + name + "' must be a number, got " + v.describe());
        };
    }

    String string(String name) {
        CompileValue v = values[index(name)];
        if (v instanceof CompileValue.StrV s) {
            return s.value();
        }
        throw new CompileError(signature.name() + ": argument '" + name + "' must be a string, got "
                + (v == null ? "nothing" : v.describe()));
    }

    /** A list of ints (a shape or a permutation). */
    int[] ints(String name) {
        CompileValue v = values[index(name)];
        if (v instanceof CompileValue.ListV l) {
            int[] out = new int[l.items().size()];
            for (int i = 0; i < out.length; i++) {
                if (!(l.items().get(i) instanceof CompileValue.IntV iv)) {
                    throw new CompileError(
                            signature.name() + ": argument '" + name + "' must be a list of ints, got " + v.describe());
                }
                out[i] = Math.toIntExact(iv.value());
            }
            return out;
        }
        throw new CompileError(signature.name() + ": argument '" + name + "' must be a list of ints, got "
                + (v == null ? "nothing" : v.describe()));
    }

    /** A list of tensors. */
    List<Value> tensors(String name) {
        CompileValue v = values[index(name)];
        if (v instanceof CompileValue.ListV l) {
            List<Value> out = new ArrayList<>();
            for (CompileValue item : l.items()) {
                out.add(ctx.tensor(item, signature.name() + " argument '" + name + "'"));
            }
            return out;
        }
        throw new CompileError(signature.name() + ": argument '" + name + "' must be a list of tensors, got "
                + (v == null ? "nothing" : v.describe()));
    }

    private int index(String name) {
        int i = signature.params().indexOf(name);
        if (i < 0) {
            throw new IllegalStateException("built-in " + signature.name() + " has no parameter " + name);
        }
        return i;
    }
}
