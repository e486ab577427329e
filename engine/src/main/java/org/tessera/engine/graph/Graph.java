package org.tessera.engine.graph;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * An immutable dataflow graph: nodes in topological order (every operand is defined by an
 * earlier node), named inputs and named outputs. Build one with {@link GraphBuilder}; compile it
 * with {@link Planner#compile}.
 */
public final class Graph {
    private final List<Node> nodes;
    private final Map<String, Value> inputs;
    private final Map<String, Value> outputs;
    private final int nextValueId;
    private final Map<Integer, Node> producers = new HashMap<>();

    Graph(List<Node> nodes, Map<String, Value> inputs, Map<String, Value> outputs, int nextValueId) {
        this.nodes = List.copyOf(nodes);
        this.inputs = Collections.unmodifiableMap(new LinkedHashMap<>(inputs));
        this.outputs = Collections.unmodifiableMap(new LinkedHashMap<>(outputs));
        this.nextValueId = nextValueId;
        for (Node n : this.nodes) {
            for (Value v : n.inputs()) {
                if (!producers.containsKey(v.id())) {
                    throw new IllegalStateException("graph: " + n.label() + " uses " + v + " before it is defined");
                }
            }
            if (producers.put(n.output().id(), n) != null) {
                throw new IllegalStateException("graph: value %" + n.output().id() + " is defined twice");
            }
        }
        for (Map.Entry<String, Value> e : this.outputs.entrySet()) {
            if (!producers.containsKey(e.getValue().id())) {
                throw new IllegalStateException("graph: output '" + e.getKey() + "' is not defined by any node");
            }
        }
    }

    /** The nodes in topological order. */
    public List<Node> nodes() {
        return nodes;
    }

    /** Declared inputs by name, in declaration order. */
    public Map<String, Value> inputs() {
        return inputs;
    }

    /** Outputs by name, in declaration order. */
    public Map<String, Value> outputs() {
        return outputs;
    }

    /** The node that defines {@code v}. */
    public Node producer(Value v) {
        return producers.get(v.id());
    }

    /** One more than the largest value id: passes mint new values from here. */
    int nextValueId() {
        return nextValueId;
    }

    /** Number of uses of each value id as an operand, plus one per output name. */
    Map<Integer, Integer> useCounts() {
        Map<Integer, Integer> uses = new HashMap<>();
        for (Node n : nodes) {
            for (Value v : n.inputs()) {
                uses.merge(v.id(), 1, Integer::sum);
            }
        }
        for (Value v : outputs.values()) {
            uses.merge(v.id(), 1, Integer::sum);
        }
        return uses;
    }

    /** True when {@code v} is a named output. */
    boolean isOutput(Value v) {
        return outputs.containsValue(v);
    }

    /** The same inputs and outputs over another node list. */
    Graph withNodes(List<Node> newNodes, int newNextValueId) {
        return new Graph(newNodes, inputs, outputs, newNextValueId);
    }

    /**
     * A readable dump: one line per node with operands, attributes, type and location, then the
     * outputs.
     */
    public String describe() {
        StringBuilder sb = new StringBuilder();
        for (Node n : nodes) {
            sb.append(n.describe()).append('\n');
        }
        List<String> outs = new ArrayList<>();
        outputs.forEach((name, v) -> outs.add(name + "=%" + v.id()));
        sb.append("outputs: ").append(String.join(", ", outs)).append('\n');
        return sb.toString();
    }

    @Override
    public String toString() {
        return "Graph[" + nodes.size() + " nodes, inputs " + inputs.keySet() + ", outputs " + outputs.keySet() + "]";
    }
}
