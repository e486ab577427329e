package org.tessera.dsl.sema;

import java.util.HashMap;
import java.util.Map;

/** Local names of a forward body (or a block body), chained to the enclosing scope. */
final class Scope {
    private final Map<String, CompileValue> vars = new HashMap<>();
    private final Scope parent;

    Scope(Scope parent) {
        this.parent = parent;
    }

    static Scope of(Map<String, CompileValue> names) {
        Scope s = new Scope(null);
        s.vars.putAll(names);
        return s;
    }

    CompileValue lookup(String name) {
        for (Scope s = this; s != null; s = s.parent) {
            CompileValue v = s.vars.get(name);
            if (v != null) {
                return v;
            }
        }
        return null;
    }

    void define(String name, CompileValue v) {
        vars.put(name, v);
    }

    /** Rebinds an existing name where it lives; false when it is not defined anywhere. */
    boolean assign(String name, CompileValue v) {
        for (Scope s = this; s != null; s = s.parent) {
            if (s.vars.containsKey(name)) {
                s.vars.put(name, v);
                return true;
            }
        }
        return false;
    }

    /** All names visible here (for "did you mean" suggestions). */
    Iterable<String> names() {
        java.util.Set<String> all = new java.util.TreeSet<>();
        for (Scope s = this; s != null; s = s.parent) {
            all.addAll(s.vars.keySet());
        }
        return all;
    }
}
