package org.tessera.dsl.sema;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.tessera.dsl.ast.Ast;
import org.tessera.dsl.diag.Diagnostics;
import org.tessera.dsl.diag.Span;

/**
 * The values a pipeline's settings are written with — integers, numbers, lists of integers, a
 * call's arguments, file names — read from the syntax tree, each wrong one reported at its
 * source position. The settings readers ({@link SettingsReader} and the readers it delegates to)
 * share one.
 */
final class ArgReader {
    private final Diagnostics diagnostics;
    private final Path baseDir;

    /** @param baseDir where relative paths in the script resolve (the script's folder) */
    ArgReader(Diagnostics diagnostics, Path baseDir) {
        this.diagnostics = diagnostics;
        this.baseDir = baseDir;
    }

    Map<String, Ast.Expr> named(Ast.Call c, Set<String> allowed) {
        Map<String, Ast.Expr> out = new LinkedHashMap<>();
        for (Ast.Arg a : c.args()) {
            if (a.name() == null || !allowed.contains(a.name())) {
                diagnostics.error(
                        a.span(),
                        c.dotted() + "(...) takes named arguments "
                                + String.join(", ", new java.util.TreeSet<>(allowed)));
                return null;
            }
            out.put(a.name(), a.value());
        }
        return out;
    }

    Map<String, Ast.Expr> positionalOrNamed(Ast.Call c, List<String> order) {
        Map<String, Ast.Expr> out = new HashMap<>();
        int i = 0;
        for (Ast.Arg a : c.args()) {
            String name = a.name() != null ? a.name() : i < order.size() ? order.get(i++) : null;
            if (name == null || !order.contains(name)) {
                diagnostics.error(a.span(), c.dotted() + "(...) takes " + String.join(", ", order));
                return null;
            }
            out.put(name, a.value());
        }
        return out;
    }

    /**
     * An integer setting that sizes work or memory, in {@code min..max}; out of range (a typo such
     * as 10000000 steps would otherwise run for hours or exhaust memory) it is an error here, and
     * the result is 0, which later checks pass over rather than report again.
     */
    int count(Ast.Expr e, String what, int min, int max) {
        int before = diagnostics.errorCount();
        long n = integer(e, what);
        if (diagnostics.errorCount() > before) {
            return 0;
        }
        if (n < min || n > max) {
            diagnostics.error(
                    e.span(),
                    what + " must be in " + min + ".." + String.format(java.util.Locale.ROOT, "%,d", max) + ", got "
                            + n);
            return 0;
        }
        return (int) n;
    }

    long integer(Ast.Expr e, String what) {
        if (e instanceof Ast.IntLit i) {
            return i.value();
        }
        if (e instanceof Ast.Unary u && u.op().equals("-") && u.operand() instanceof Ast.IntLit i) {
            return -i.value();
        }
        diagnostics.error(e.span(), what + " must be an integer");
        return 0;
    }

    double number(Ast.Expr e, String what) {
        return switch (e) {
            case Ast.IntLit i -> i.value();
            case Ast.FloatLit f -> f.value();
            case Ast.Unary u when u.op().equals("-") -> -number(u.operand(), what);
            default -> {
                diagnostics.error(e.span(), what + " must be a number");
                yield 0;
            }
        };
    }

    long[] longs(Ast.Expr e, String what) {
        int before = diagnostics.errorCount();
        List<Long> items = integerList(e, what);
        if (diagnostics.errorCount() > before) {
            return null;
        }
        if (items.isEmpty()) {
            diagnostics.error(e.span(), what + " must be a non-empty list of integers, e.g. [207, 360]");
            return null;
        }
        return items.stream().mapToLong(Long::longValue).toArray();
    }

    /**
     * A list of integers as Python writes one: {@code [207, 360]}, {@code range(10)},
     * {@code range(2, 5)}, a list repeated ({@code range(10) * 100}, ten classes a hundred times
     * over) or lists joined ({@code [1] + range(3, 5)}), at most {@link Limits#MAX_LIST_ITEMS} items.
     */
    List<Long> integerList(Ast.Expr e, String what) {
        List<Long> out = new ArrayList<>();
        switch (e) {
            case Ast.ListLit l -> l.items().forEach(i -> out.add(integer(i, what)));
            case Ast.Call c
            when c.dotted().equals("range")
                    && !c.args().isEmpty()
                    && c.args().size() <= 2
                    && c.args().stream().allMatch(a -> a.name() == null) -> {
                long from = c.args().size() == 2 ? integer(c.args().get(0).value(), "range's start") : 0;
                long to = integer(c.args().getLast().value(), "range's end");
                if ((double) to - from > Limits.MAX_LIST_ITEMS) { // in double: no long overflow
                    diagnostics.error(c.span(), tooLong(what));
                    return out;
                }
                for (long i = from; i < to; i++) {
                    out.add(i);
                }
            }
            case Ast.Binary b
            when b.op().equals("*") -> {
                List<Long> items = integerList(b.left(), what);
                long times = integer(b.right(), "a list's repeat count");
                if (times < 0 || times > Limits.MAX_LIST_ITEMS || items.size() * times > Limits.MAX_LIST_ITEMS) {
                    diagnostics.error(b.span(), times < 0 ? "a list's repeat count must be ≥ 0" : tooLong(what));
                    return out;
                }
                for (long i = 0; i < times; i++) {
                    out.addAll(items);
                }
            }
            case Ast.Binary b
            when b.op().equals("+") -> {
                out.addAll(integerList(b.left(), what));
                out.addAll(integerList(b.right(), what));
                if (out.size() > Limits.MAX_LIST_ITEMS) {
                    diagnostics.error(b.span(), tooLong(what));
                }
            }
            default ->
                diagnostics.error(
                        e.span(),
                        what + " must be a list of integers: [207, 360], range(10), range(10) * 4 or lists joined"
                                + " with +");
        }
        return out;
    }

    private static String tooLong(String what) {
        return what + " would have more than " + Limits.MAX_LIST_ITEMS + " items";
    }

    /** {@code name} against the script's folder, or null after reporting a name no file can have. */
    Path file(String name, Span span) {
        try {
            return baseDir.resolve(name).normalize();
        } catch (java.nio.file.InvalidPathException e) {
            diagnostics.error(
                    span,
                    "\"" + name.replace("\0", "\\0") + "\" is not a valid file name here (" + e.getReason() + ")");
            return null;
        }
    }
}
