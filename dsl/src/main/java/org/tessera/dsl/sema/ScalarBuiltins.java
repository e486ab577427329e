package org.tessera.dsl.sema;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Compile-time functions on numbers, lists and tensor shapes. */
final class ScalarBuiltins {
    private ScalarBuiltins() {}

    static void register(Map<String, Builtin> m) {
        Builtins.add(m, Builtin.of(Signature.of("int", 1, "x"), (c, a) -> new CompileValue.IntV((long) a.number("x", 0))));
        Builtins.add(m, Builtin.of(Signature.of("float", 1, "x"), (c, a) -> new CompileValue.FloatV(a.number("x", 0))));
        Builtins.add(m, Builtin.of(Signature.of("sqrt", 1, "x"), (c, a) -> new CompileValue.FloatV(Math.sqrt(a.number("x", 0)))));
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
        Builtins.add(m, Builtin.of(Signature.of("size", 2, "x", "dim"), (c, a) ->
                new CompileValue.IntV(a.tensor("x").size(a.intValue("dim")))));
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
