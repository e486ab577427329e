package org.tessera.dsl.sema;

import java.util.Collections;
import java.util.Map;
import java.util.TreeMap;

/** Every built-in function of the language, by name. */
final class Builtins {
    private static final Map<String, Builtin> ALL;

    static {
        Map<String, Builtin> m = new TreeMap<>();
        TensorBuiltins.register(m);
        ShapeBuiltins.register(m);
        ScalarBuiltins.register(m);
        ALL = Collections.unmodifiableMap(m);
    }

    private Builtins() {}

    static Builtin get(String name) {
        return ALL.get(name);
    }

    static Map<String, Builtin> all() {
        return ALL;
    }

    static void add(Map<String, Builtin> m, Builtin b) {
        m.put(b.signature().name(), b);
    }
}
