package org.tessera.dsl.sema;

import java.util.ArrayList;
import java.util.List;
import org.tessera.dsl.ast.Ast;

/**
 * Parameter names of a built-in, Python-style: positional arguments bind in order, keyword
 * arguments by name; {@code required} leading parameters must be given. A trailing
 * {@code **extra} (for rearrange's axis sizes) is enabled by {@code extraKeywords}.
 */
record Signature(String name, List<String> params, int required, boolean extraKeywords) {

    static Signature of(String name, int required, String... params) {
        return new Signature(name, List.of(params), required, false);
    }

    static Signature withExtraKeywords(String name, int required, String... params) {
        return new Signature(name, List.of(params), required, true);
    }

    /** "linear(x, weight, bias?)". */
    String display() {
        List<String> parts = new ArrayList<>();
        for (int i = 0; i < params.size(); i++) {
            parts.add(params.get(i) + (i >= required ? "?" : ""));
        }
        if (extraKeywords) {
            parts.add("name = size...");
        }
        return name + "(" + String.join(", ", parts) + ")";
    }

    /** Checks argument names and counts without evaluating; returns an error message or null. */
    String checkShape(List<Ast.Arg> args) {
        int positional = 0;
        boolean sawKeyword = false;
        boolean[] given = new boolean[params.size()];
        for (Ast.Arg a : args) {
            if (a.name() == null) {
                if (sawKeyword) {
                    return "positional argument after a keyword argument in " + name + "(...)";
                }
                if (positional >= params.size()) {
                    return name + " takes at most " + params.size() + " argument" + (params.size() == 1 ? "" : "s")
                            + " but " + countPositional(args) + " were given: " + display();
                }
                given[positional++] = true;
            } else {
                sawKeyword = true;
                int i = params.indexOf(a.name());
                if (i < 0) {
                    if (extraKeywords) {
                        continue;
                    }
                    return name + " has no parameter '" + a.name() + "': " + display();
                }
                if (given[i]) {
                    return name + ": argument '" + a.name() + "' given twice";
                }
                given[i] = true;
            }
        }
        for (int i = 0; i < required; i++) {
            if (!given[i]) {
                return name + " is missing argument '" + params.get(i) + "': " + display();
            }
        }
        return null;
    }

    private static int countPositional(List<Ast.Arg> args) {
        return (int) args.stream().filter(a -> a.name() == null).count();
    }
}
