package org.tessera.dsl.sema;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Compile-time functions on numbers, lists and tensor shapes. */
final class ScalarBuiltins {
    private ScalarBuiltins() {}

    static void register(Map<String, Builtin> m) {
        Builtins.add(
                m, Builtin.of(Signature.of("int", 1, "x"), (c, a) -> new CompileValue.IntV((long) a.number("x", 0))));
        Builtins.add(m, Builtin.of(Signature.of("float", 1, "x"), (c, a) -> new CompileValue.FloatV(a.number("x", 0))));
        Builtins.add(
                m, Builtin.of(Signature.of("sqrt", 1, "x"), (c, a) -> finite("sqrt", a.number("x", 0), Math::sqrt)));
        Builtins.add(m, Builtin.of(Signature.of("log", 1, "x"), (c, a) -> finite("log", a.number("x", 0), Math::log)));
        Builtins.add(m, Builtin.of(Signature.of("exp", 1, "x"), (c, a) -> finite("exp", a.number("x", 0), Math::exp)));
        Builtins.add(m, Builtin.of(Signature.of("min", 2, "a", "b"), (c, a) -> pick(a, true)));
        Builtins.add(m, Builtin.of(Signature.of("max", 2, "a", "b"), (c, a) -> pick(a, false)));
        Builtins.add(m, Builtin.of(Signature.of("len", 1, "x"), (c, a) -> switch (a.raw("x")) {
            case CompileValue.ListV l -> new CompileValue.IntV(l.items().size());
            case CompileValue.ModuleListV l -> new CompileValue.IntV(l.modules().size());
            case CompileValue v -> throw new CompileError("len: expects a list, got " + v.describe());
        }));
        Builtins.add(m, Builtin.of(Signature.of("shape", 1, "x"), (c, a) -> {
            int[] s = a.tensor("x").shape();
            List<CompileValue> items = new ArrayList<>();
            for (int d : s) {
                items.add(new CompileValue.IntV(d));
            }
            return new CompileValue.ListV(items);
        }));
        Builtins.add(
                m,
                Builtin.of(
                        Signature.of("size", 2, "x", "dim"),
                        (c, a) -> new CompileValue.IntV(a.tensor("x").size(a.intValue("dim")))));
    }

    /**
     * {@code f(x)} as a compile-time float; a NaN or infinite result (sqrt of a negative, log of
     * 0) is an error at the call rather than a value that poisons every later step.
     */
    private static CompileValue finite(String name, double x, java.util.function.DoubleUnaryOperator f) {
        double y = f.applyAsDouble(x);
        if (!Double.isFinite(y)) {
            throw new CompileError(name + "(" + x + ") is not a finite number");
        }
        return new CompileValue.FloatV(y);
    }

    private static CompileValue pick(BoundArgs a, boolean min) {
        if (a.raw("a") instanceof CompileValue.IntV x && a.raw("b") instanceof CompileValue.IntV y) {
            return new CompileValue.IntV(min ? Math.min(x.value(), y.value()) : Math.max(x.value(), y.value()));
        }
        double x = a.number("a", 0);
        double y = a.number("b", 0);
        return new CompileValue.FloatV(min ? Math.min(x, y) : Math.max(x, y));
    }
}
