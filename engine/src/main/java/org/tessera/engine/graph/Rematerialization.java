package org.tessera.engine.graph;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.tessera.engine.tensor.ByteSizes;

/**
 * The activation memory plan of a differentiated graph: which forward values the backward pass
 * keeps, and which it recomputes.
 *
 * <p>A training step's peak memory is where the forward pass ends: every forward value that a
 * gradient rule reads is still alive there. Many of those are cheap to make again from others
 * that stay alive anyway — the GELU of a pre-activation the GELU′ rule keeps, the adaLN
 * modulation of a layer norm whose input its own rule keeps. Recomputing such a value right
 * before its first backward use frees its buffer at its last forward use, for one pointwise
 * pass (a few per cent of the step, against the matrix products' dozens). Matrix products,
 * attention and convolutions are never recomputed here: that is a trade of time for memory
 * the caller would have to ask for.
 *
 * <p>The choice, greedy and largest first: a forward value is recomputed when its producer is
 * a deterministic pointwise, normalisation or copy op, and its buffer is larger than the
 * buffers its recomputation would newly keep alive (operands no backward rule reads yet, unless
 * they are recomputed themselves; inputs and constants live for the whole run and cost
 * nothing). Views (reshape, permute, slice, …) of a recomputed value used by the backward are
 * re-taken from the recomputed copy. The clones are the same ops on the same operands, so the
 * gradients are the same bits with or without this pass, fusion aside.
 *
 * <p>A by-product: a layer norm whose output is no longer read by the backward has one use
 * left, so {@link Fusion} can merge it with its modulation in the forward pass (a kernel that
 * rounds its own way, within 1e-6 relative).
 */
final class Rematerialization {
    private Rematerialization() {}

    /**
     * What the pass did.
     *
     * @param graph the rewritten graph (the input graph when nothing pays)
     * @param recomputed the number of forward buffers recomputed, by producer kind
     * @param bytesFreed the sum of their sizes, less the buffers their recomputation keeps alive
     */
    record Result(Graph graph, Map<String, Integer> recomputed, long bytesFreed) {
        /** One line for logs, e.g. {@code recompute: 18 forward values (gelu ×6, modulate ×12), 41.2 MB fewer kept}. */
        String summary() {
            if (recomputed.isEmpty()) {
                return "recompute: nothing pays";
            }
            int n = recomputed.values().stream().mapToInt(Integer::intValue).sum();
            List<String> kinds = new ArrayList<>();
            recomputed.forEach((k, c) -> kinds.add(k + " ×" + c));
            return "recompute: " + n + " forward value" + (n == 1 ? "" : "s") + " in the backward pass ("
                    + String.join(", ", kinds) + "), "
                    + ByteSizes.format(bytesFreed) + " fewer kept";
        }
    }

    /**
     * Rewrites {@code g}, whose first {@code forwardNodes} nodes are the forward pass and the
     * rest the backward pass that reads them.
     */
    static Result apply(Graph g, int forwardNodes) {
        List<Node> nodes = g.nodes();
        Map<Integer, Integer> index = new HashMap<>();
        Map<Integer, Integer> root = new HashMap<>(); // value id → id of the buffer it lives in, −1 for none
        for (int i = 0; i < nodes.size(); i++) {
            Node n = nodes.get(i);
            int id = n.output().id();
            index.put(id, i);
            if (n.op() instanceof SourceOps.Constant || n.op() instanceof SourceOps.Input) {
                root.put(id, -1); // alive for the whole run
            } else if (n.op().isView()) {
                root.put(id, root.get(n.input(0).id()));
            } else {
                root.put(id, id);
            }
        }
        Set<Integer> pinned = new HashSet<>(); // outputs: alive to the end whatever we do
        for (Value v : g.outputs().values()) {
            pinned.add(root.get(v.id()));
        }
        Set<Integer> kept = new HashSet<>(); // forward buffers a backward node reads
        for (int i = forwardNodes; i < nodes.size(); i++) {
            for (Value v : nodes.get(i).inputs()) {
                int r = root.get(v.id());
                if (r >= 0 && index.get(r) < forwardNodes) {
                    kept.add(r);
                }
            }
        }

        List<Integer> candidates = new ArrayList<>();
        for (int r : kept) {
            if (!pinned.contains(r) && isCheap(nodes.get(index.get(r)).op())) {
                candidates.add(r);
            }
        }
        candidates.sort(Comparator.comparingLong(
                        (Integer r) -> nodes.get(index.get(r)).output().byteSize())
                .reversed()
                .thenComparing(r -> index.get(r)));
        Set<Integer> recompute = new HashSet<>();
        long freed = 0;
        Map<String, Integer> byKind = new TreeMap<>();
        for (int r : candidates) {
            Node producer = nodes.get(index.get(r));
            Set<Integer> newlyKept = new HashSet<>();
            long cost = 0;
            for (Value in : producer.inputs()) {
                int u = root.get(in.id());
                if (u >= 0 && !kept.contains(u) && !recompute.contains(u) && newlyKept.add(u)) {
                    cost += nodes.get(index.get(u)).output().byteSize();
                }
            }
            long bytes = producer.output().byteSize();
            if (bytes > cost) {
                recompute.add(r);
                kept.addAll(newlyKept);
                freed += bytes - cost;
                byKind.merge(producer.kind(), 1, Integer::sum);
            }
        }
        if (recompute.isEmpty()) {
            return new Result(g, Map.of(), 0);
        }

        Rewriter w = new Rewriter(nodes, index, root, recompute, forwardNodes, g.nextValueId());
        for (int i = forwardNodes; i < nodes.size(); i++) {
            w.emitBackward(nodes.get(i));
        }
        return new Result(g.withNodes(w.out, w.nextId), byKind, freed);
    }

    /**
     * Deterministic ops whose cost is a pass over their output: worth running twice to free a
     * buffer. Random draws are not ops of the graph (noise is fed in), so every op here gives
     * the same bits again.
     */
    static boolean isCheap(Op op) {
        return op instanceof PointwiseOps.Binary
                || op instanceof PointwiseOps.Scalar
                || op instanceof PointwiseOps.Activate
                || op instanceof PointwiseOps.Clamp
                || op instanceof PointwiseOps.Modulate
                || op instanceof NormalizationOps.LayerNorm
                || op instanceof NormalizationOps.LayerNormModulate
                || op instanceof NormalizationOps.GroupNorm
                || op instanceof ShapeOps.Contiguous
                || op instanceof ShapeOps.Cast;
    }

    /** Copies the graph, cloning recomputed values (and their views) before their first backward use. */
    private static final class Rewriter {
        final List<Node> nodes;
        final Map<Integer, Integer> index;
        final Map<Integer, Integer> root;
        final Set<Integer> recompute;
        final int forwardNodes;
        final List<Node> out;
        final Map<Integer, Value> clones = new HashMap<>();
        int nextId;

        Rewriter(
                List<Node> nodes,
                Map<Integer, Integer> index,
                Map<Integer, Integer> root,
                Set<Integer> recompute,
                int forwardNodes,
                int nextId) {
            this.nodes = nodes;
            this.index = index;
            this.root = root;
            this.recompute = recompute;
            this.forwardNodes = forwardNodes;
            this.nextId = nextId;
            this.out = new ArrayList<>(nodes.subList(0, forwardNodes));
        }

        void emitBackward(Node n) {
            out.add(n.with(mapped(n.inputs()), n.output()));
        }

        private List<Value> mapped(List<Value> inputs) {
            List<Value> m = new ArrayList<>(inputs.size());
            for (Value v : inputs) {
                m.add(needsClone(v) ? cloneOf(v) : v);
            }
            return m;
        }

        /** A forward value living in a recomputed buffer: the value itself or a view of it. */
        private boolean needsClone(Value v) {
            int r = root.get(v.id());
            return r >= 0 && recompute.contains(r) && index.get(v.id()) < forwardNodes;
        }

        private Value cloneOf(Value v) {
            Value c = clones.get(v.id());
            if (c == null) {
                Node producer = nodes.get(index.get(v.id()));
                List<Value> inputs = mapped(producer.inputs()); // emits the clones it needs first
                c = new Value(nextId++, v.shape(), v.dtype());
                String at = producer.location() == null ? "recomputed" : producer.location() + " (recomputed)";
                out.add(new Node(producer.op(), inputs, c, at));
                clones.put(v.id(), c);
            }
            return c;
        }
    }
}
