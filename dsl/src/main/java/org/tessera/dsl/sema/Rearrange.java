package org.tessera.dsl.sema;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tessera.engine.graph.GraphBuilder;
import org.tessera.engine.graph.Value;

/**
 * einops-style {@code rearrange} and {@code repeat} with named axes, e.g.
 * {@code "b n (three h d) -> three b h n d"}, lowered to reshape → permute → (expand) → reshape,
 * each step skipped when it is the identity.
 */
final class Rearrange {
    private Rearrange() {}

    /** One side of a pattern: groups of axis names ({@code (h d)} is one group of two). */
    record Side(List<List<String>> groups) {
        List<String> axes() {
            List<String> all = new ArrayList<>();
            groups.forEach(all::addAll);
            return all;
        }
    }

    record Pattern(Side left, Side right) {}

    static Pattern parse(String op, String text) {
        String[] sides = text.split("->", -1);
        if (sides.length != 2) {
            throw new CompileError(op + ": pattern \"" + text + "\" needs exactly one '->'");
        }
        return new Pattern(side(op, text, sides[0]), side(op, text, sides[1]));
    }

    private static Side side(String op, String text, String s) {
        List<List<String>> groups = new ArrayList<>();
        List<String> open = null;
        for (String tok : s.replace("(", " ( ").replace(")", " ) ").trim().split("\\s+")) {
            if (tok.isEmpty()) {
                continue;
            }
            switch (tok) {
                case "(" -> {
                    if (open != null) {
                        throw new CompileError(op + ": nested parentheses in \"" + text + "\"");
                    }
                    open = new ArrayList<>();
                }
                case ")" -> {
                    if (open == null) {
                        throw new CompileError(op + ": unbalanced ')' in \"" + text + "\"");
                    }
                    groups.add(open);
                    open = null;
                }
                default -> {
                    if (!tok.matches("[A-Za-z_][A-Za-z_0-9]*|1")) {
                        throw new CompileError(op + ": '" + tok + "' is not an axis name in \"" + text + "\"");
                    }
                    if (open != null) {
                        open.add(tok);
                    } else {
                        groups.add(List.of(tok));
                    }
                }
            }
        }
        if (open != null) {
            throw new CompileError(op + ": unbalanced '(' in \"" + text + "\"");
        }
        return new Side(groups);
    }

    /**
     * Lowers {@code rearrange} ({@code allowNew} false) or {@code repeat} ({@code allowNew} true:
     * right-side axes absent on the left are new, with sizes from {@code sizes}).
     */
    static Value apply(GraphBuilder g, Value x, String op, String text, Map<String, Long> sizes, boolean allowNew) {
        Pattern p = parse(op, text);
        int[] shape = x.shape();
        if (p.left().groups().size() != shape.length) {
            throw new CompileError(op + ": the input has " + shape.length + " dimensions " + Arrays.toString(shape)
                    + " but the left side of \"" + text + "\" has "
                    + p.left().groups().size());
        }
        Map<String, Long> known = new HashMap<>(sizes);
        Map<String, Integer> axisSize = new LinkedHashMap<>();
        int unit = 0;
        List<String> leftAxes = new ArrayList<>();
        for (int gi = 0; gi < shape.length; gi++) {
            List<String> group = p.left().groups().get(gi);
            long product = 1;
            String unknown = null;
            for (String a : group) {
                String name = a.equals("1") ? "1#" + (unit++) : a;
                if (axisSize.containsKey(name) || leftAxes.contains(name)) {
                    throw new CompileError(op + ": axis '" + a + "' appears twice on the left of \"" + text + "\"");
                }
                leftAxes.add(name);
                if (a.equals("1")) {
                    axisSize.put(name, 1);
                } else if (known.containsKey(a)) {
                    product *= known.get(a);
                } else if (unknown == null) {
                    unknown = a;
                } else {
                    throw new CompileError(op + ": cannot infer both '" + unknown + "' and '" + a + "' in group ("
                            + String.join(" ", group) + "); give one as " + op + "(..., " + a + " = size)");
                }
            }
            if (unknown != null) {
                if (product == 0 || shape[gi] % product != 0) {
                    throw new CompileError(op + ": dimension " + gi + " of size " + shape[gi] + " cannot be split as ("
                            + String.join(" ", group) + ")");
                }
                known.put(unknown, shape[gi] / product);
            } else if (product != shape[gi]
                    && !(group.size() == 1 && group.get(0).equals("1") && shape[gi] == 1)) {
                throw new CompileError(op + ": dimension " + gi + " has size " + shape[gi] + " but ("
                        + String.join(" ", group) + ") = " + product);
            }
            for (String a : group) {
                if (!a.equals("1")) {
                    axisSize.put(a, Math.toIntExact(known.get(a)));
                }
            }
        }
        // The right side: existing axes in their new order, then new (repeated) axes.
        List<String> rightAxes = new ArrayList<>();
        List<int[]> rightGroupSizes = new ArrayList<>();
        int[] finalShape = new int[p.right().groups().size()];
        for (int gi = 0; gi < finalShape.length; gi++) {
            long product = 1;
            for (String a : p.right().groups().get(gi)) {
                if (a.equals("1")) {
                    continue;
                }
                if (rightAxes.contains(a)) {
                    throw new CompileError(op + ": axis '" + a + "' appears twice on the right of \"" + text + "\"");
                }
                rightAxes.add(a);
                if (!axisSize.containsKey(a)) {
                    if (!allowNew) {
                        throw new CompileError(
                                op + ": axis '" + a + "' is on the right of \"" + text + "\" but not on the left");
                    }
                    if (!sizes.containsKey(a)) {
                        throw new CompileError(
                                op + ": new axis '" + a + "' needs a size: " + op + "(..., " + a + " = n)");
                    }
                }
                product *= axisSize.containsKey(a) ? axisSize.get(a) : sizes.get(a);
            }
            finalShape[gi] = Math.toIntExact(product);
        }
        for (String a : leftAxes) {
            if (!a.startsWith("1#") && !rightAxes.contains(a)) {
                throw new CompileError(
                        op + ": axis '" + a + "' is on the left of \"" + text + "\" but not on the right");
            }
        }
        // 1. split into elementary axes (unit axes dropped)
        List<String> elementary = new ArrayList<>();
        for (String a : leftAxes) {
            if (!a.startsWith("1#")) {
                elementary.add(a);
            }
        }
        int[] elemShape = elementary.stream().mapToInt(axisSize::get).toArray();
        Value v = Arrays.equals(elemShape, shape) ? x : g.reshape(x, elemShape);
        // 2. permute the existing axes into right-side order
        List<String> kept = rightAxes.stream().filter(axisSize::containsKey).toList();
        int[] perm = kept.stream().mapToInt(elementary::indexOf).toArray();
        if (!isIdentity(perm)) {
            v = g.permute(v, perm);
        }
        // 3. new axes (repeat): insert size-1 dims and broadcast
        if (kept.size() != rightAxes.size()) {
            int[] withOnes = new int[rightAxes.size()];
            int[] expanded = new int[rightAxes.size()];
            for (int i = 0; i < rightAxes.size(); i++) {
                String a = rightAxes.get(i);
                boolean isNew = !axisSize.containsKey(a);
                withOnes[i] = isNew ? 1 : axisSize.get(a);
                expanded[i] = isNew ? Math.toIntExact(sizes.get(a)) : axisSize.get(a);
            }
            v = g.reshape(g.contiguous(v), withOnes);
            v = g.expand(v, expanded);
        }
        // 4. merge the right-side groups
        if (!Arrays.equals(v.shape(), finalShape)) {
            v = g.reshape(v, finalShape);
        }
        return v;
    }

    private static boolean isIdentity(int[] perm) {
        for (int i = 0; i < perm.length; i++) {
            if (perm[i] != i) {
                return false;
            }
        }
        return true;
    }
}
