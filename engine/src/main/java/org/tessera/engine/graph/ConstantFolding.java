package org.tessera.engine.graph;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.tessera.engine.backend.Backend;
import org.tessera.engine.tensor.Tensor;

/**
 * Evaluates, once at compile time, every node whose operands are all constants (and nodes with
 * no operands, such as the sin-cos position table), replacing it by a constant. Views of
 * constants stay views of the constant's storage; computed results live in an automatic arena
 * that lives as long as the compiled graph references them.
 */
final class ConstantFolding {
    private ConstantFolding() {}

    static Graph apply(Graph g, Backend backend, List<String> log) {
        Map<Integer, Tensor> constants = new HashMap<>();
        Map<String, Integer> folded = new TreeMap<>();
        List<Node> out = new ArrayList<>(g.nodes().size());
        Arena arena = Arena.ofAuto();
        for (Node n : g.nodes()) {
            switch (n.op()) {
                case SourceOps.Constant c -> {
                    constants.put(n.output().id(), c.value());
                    out.add(n);
                }
                case SourceOps.Input i -> out.add(n);
                default -> {
                    Tensor[] in = new Tensor[n.inputs().size()];
                    boolean all = true;
                    for (int i = 0; all && i < in.length; i++) {
                        in[i] = constants.get(n.input(i).id());
                        all = in[i] != null;
                    }
                    if (!all) {
                        out.add(n);
                        continue;
                    }
                    Tensor value = evaluate(backend, n, in, arena);
                    constants.put(n.output().id(), value);
                    out.add(new Node(
                            new SourceOps.Constant("folded " + n.kind(), value), List.of(), n.output(), n.location()));
                    folded.merge(n.kind(), 1, Integer::sum);
                }
            }
        }
        if (folded.isEmpty()) {
            return g;
        }
        List<String> parts = new ArrayList<>();
        folded.forEach((kind, count) -> parts.add(count + " " + kind));
        log.add("constant folding: folded " + String.join(", ", parts));
        return g.withNodes(out, g.nextValueId());
    }

    private static Tensor evaluate(Backend backend, Node n, Tensor[] in, Arena arena) {
        try {
            if (n.op().isView()) {
                return n.op().view(in[0]);
            }
            Value v = n.output();
            Tensor result = Tensor.zeros(arena, v.dtype(), v.shape());
            NodeKernels.step(backend, n, in, result, null, arena, a -> {}).run();
            return result;
        } catch (RuntimeException e) {
            throw new GraphExecutionException(n, "while folding constants", e);
        }
    }
}
