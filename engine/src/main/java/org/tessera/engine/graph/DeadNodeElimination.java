package org.tessera.engine.graph;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Removes nodes whose values no output depends on, walking back from the outputs. Declared
 * inputs stay (callers still pass them) even when unused.
 */
final class DeadNodeElimination {
    private DeadNodeElimination() {}

    static Graph apply(Graph g, List<String> log) {
        Set<Integer> live = new HashSet<>();
        for (Value v : g.outputs().values()) {
            live.add(v.id());
        }
        List<Node> nodes = g.nodes();
        boolean[] keep = new boolean[nodes.size()];
        for (int i = nodes.size() - 1; i >= 0; i--) {
            Node n = nodes.get(i);
            if (live.contains(n.output().id()) || n.op() instanceof SourceOps.Input) {
                keep[i] = true;
                for (Value v : n.inputs()) {
                    live.add(v.id());
                }
            }
        }
        List<Node> kept = new ArrayList<>();
        for (int i = 0; i < nodes.size(); i++) {
            if (keep[i]) {
                kept.add(nodes.get(i));
            }
        }
        int removed = nodes.size() - kept.size();
        if (removed == 0) {
            return g;
        }
        log.add("dead-node removal: removed " + removed + " node" + (removed == 1 ? "" : "s"));
        return g.withNodes(kept, g.nextValueId());
    }
}
