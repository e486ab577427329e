package org.tessera.dsl.diag;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Collects every diagnostic of a compilation (the front end does not stop at the first) and
 * renders them the way compilers do: the headline, the source line, and a caret under the
 * column.
 */
public final class Diagnostics {
    private final List<Diagnostic> items = new ArrayList<>();
    private final Map<String, String[]> sources = new HashMap<>();

    /** An empty collection. */
    public Diagnostics() {}

    /** Registers a file's text so that messages can quote its lines. */
    public void addSource(String file, String text) {
        sources.put(file, text.split("\r?\n", -1));
    }

    /** Adds an error; the same message at the same place (e.g. from each of 28 blocks) is kept once. */
    public void error(Span span, String message) {
        add(new Diagnostic(Diagnostic.Severity.ERROR, span, message));
    }

    public void warning(Span span, String message) {
        add(new Diagnostic(Diagnostic.Severity.WARNING, span, message));
    }

    private void add(Diagnostic d) {
        if (!items.contains(d)) {
            items.add(d);
        }
    }

    /** Adds every diagnostic of {@code other}, with the sources it can quote. */
    public void addAll(Diagnostics other) {
        sources.putAll(other.sources);
        other.items.forEach(this::add);
    }

    /** How many diagnostics there are, to {@link #rewriteFrom} the ones a later pass adds. */
    public int size() {
        return items.size();
    }

    /** A new collection of the diagnostics added since {@code index} (with the sources they quote). */
    public Diagnostics since(int index) {
        Diagnostics d = new Diagnostics();
        d.sources.putAll(sources);
        d.items.addAll(items.subList(Math.min(index, items.size()), items.size()));
        return d;
    }

    /** Drops the diagnostics added since {@code size} (a pass that was only a trial). */
    public void truncate(int size) {
        while (items.size() > size) {
            items.remove(items.size() - 1);
        }
    }

    /** Rewrites the messages of the diagnostics added since {@code index} (e.g. to name a symbolic dimension). */
    public void rewriteFrom(int index, java.util.function.UnaryOperator<String> rewrite) {
        for (int i = index; i < items.size(); i++) {
            Diagnostic d = items.get(i);
            items.set(i, new Diagnostic(d.severity(), d.span(), rewrite.apply(d.message())));
        }
    }

    public boolean hasErrors() {
        return items.stream().anyMatch(d -> d.severity() == Diagnostic.Severity.ERROR);
    }

    public int errorCount() {
        return (int) items.stream()
                .filter(d -> d.severity() == Diagnostic.Severity.ERROR)
                .count();
    }

    public List<Diagnostic> all() {
        return Collections.unmodifiableList(items);
    }

    /** Every diagnostic, in source order, each with its source line and a caret. */
    public String render() {
        StringBuilder sb = new StringBuilder();
        List<Diagnostic> sorted = new ArrayList<>(items);
        sorted.sort((a, b) -> {
            int c = a.span().file().compareTo(b.span().file());
            if (c != 0) {
                return c;
            }
            c = Integer.compare(a.span().line(), b.span().line());
            return c != 0 ? c : Integer.compare(a.span().column(), b.span().column());
        });
        for (Diagnostic d : sorted) {
            sb.append(d.headline()).append('\n');
            String[] lines = sources.get(d.span().file());
            int line = d.span().line();
            if (lines != null && line >= 1 && line <= lines.length) {
                String text = lines[line - 1];
                sb.append("    ").append(text).append('\n');
                int col = Math.max(1, d.span().column());
                int width = d.span().endLine() == line ? Math.max(1, d.span().endColumn() - col) : 1;
                width = Math.max(1, Math.min(width, Math.max(1, text.length() - col + 1)));
                sb.append("    ")
                        .append(caretPad(text, col - 1))
                        .append("^")
                        .append("~".repeat(width - 1))
                        .append('\n');
            }
        }
        return sb.toString();
    }

    /** Spaces up to the caret, keeping tabs so the caret lines up under tabbed source. */
    private static String caretPad(String text, int n) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < n; i++) {
            sb.append(i < text.length() && text.charAt(i) == '\t' ? '\t' : ' ');
        }
        return sb.toString();
    }
}
