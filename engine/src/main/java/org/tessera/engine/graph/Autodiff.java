package org.tessera.engine.graph;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Reverse-mode differentiation of a graph. The forward graph is copied node for node into a new
 * one; then, from a scalar loss, the nodes are visited in reverse order and each op's
 * {@link Op#gradient() gradient rule} adds the nodes that carry the gradient to its inputs,
 * summing where a value feeds several nodes. Only values on a path from the differentiated
 * inputs to the loss get gradients. The result is an ordinary graph — planned, fused and run like
 * any other — whose outputs are the forward outputs and {@code grad.NAME} for each input NAME
 * asked for.
 *
 * <p>Trainable weights are graph inputs here, not constants: a training step feeds their current
 * values, so that nothing is recompiled as they change.
 *
 * <p>Which forward values the backward pass keeps is the {@link Activations} policy: by default
 * the cheap ones (pointwise ops, normalisations) are recomputed where that frees memory.
 */
public final class Autodiff {
    /** The output name prefix of a gradient: {@code grad.w} is ∂loss/∂w. */
    public static final String GRAD = "grad.";

    /** What the backward pass does with the forward values its rules read. */
    public enum Activations {
        /** Keep every one alive from the forward pass. */
        KEEP,
        /**
         * Recompute, just before their first backward use, the values of pointwise,
         * normalisation and copy ops whose buffers are larger than what recomputing them keeps
         * alive; the same gradients, bit for bit, with a lower peak.
         */
        RECOMPUTE_CHEAP
    }

    private Autodiff() {}

    /** {@link #differentiate(Graph, String, Collection, Activations, List)} recomputing cheap activations. */
    public static Graph differentiate(Graph forward, String loss, Collection<String> wrt) {
        return differentiate(forward, loss, wrt, Activations.RECOMPUTE_CHEAP, new ArrayList<>());
    }

    /**
     * The forward graph extended with ∂{@code loss}/∂x for every input x named in {@code wrt}.
     *
     * @param loss the name of a forward output with one element
     * @param activations what the backward pass keeps of the forward pass
     * @param log receives a line saying what was recomputed
     * @throws IllegalArgumentException when the loss is not a single element, an input is not
     *     a float input of the graph, or an op on the way has no gradient rule yet (named with its
     *     source location)
     */
    public static Graph differentiate(
            Graph forward, String loss, Collection<String> wrt, Activations activations, List<String> log) {
        Value lossValue = forward.outputs().get(loss);
        if (lossValue == null || lossValue.numel() != 1) {
            throw new IllegalArgumentException("the loss must be an output with one element; '" + loss + "' is "
                    + (lossValue == null ? "not an output" : lossValue));
        }
        Set<Integer> targets = new HashSet<>();
        for (String name : wrt) {
            Value in = forward.inputs().get(name);
            if (in == null || !in.dtype().isFloatingPoint()) {
                throw new IllegalArgumentException("cannot differentiate with respect to '" + name + "': "
                        + (in == null
                                ? "not an input of the graph"
                                : "an " + in.dtype().shortName() + " input"));
            }
            targets.add(in.id());
        }

        GraphBuilder g = new GraphBuilder();
        Map<Integer, Value> copy = new HashMap<>(); // forward value id → its copy
        List<Node> nodes = new ArrayList<>();
        Set<Integer> reached = new HashSet<>(); // copied values that depend on a target
        for (Node n : forward.nodes()) {
            List<Value> inputs = n.inputs().stream().map(v -> copy.get(v.id())).toList();
            g.at(n.location());
            Value v = switch (n.op()) {
                case SourceOps.Input in ->
                    g.input(in.name(), n.output().dtype(), n.output().shape());
                case SourceOps.Constant c -> g.constant(c.name(), c.value());
                default -> g.apply(n.op(), inputs);
            };
            copy.put(n.output().id(), v);
            nodes.add(new Node(n.op(), inputs, v, n.location()));
            if (targets.contains(n.output().id()) || inputs.stream().anyMatch(i -> reached.contains(i.id()))) {
                reached.add(v.id());
            }
        }

        Map<Integer, Value> grads = new HashMap<>();
        Value lossCopy = copy.get(lossValue.id());
        grads.put(lossCopy.id(), g.constant("grad.seed", Gradients.ones(lossCopy)));
        for (int i = nodes.size() - 1; i >= 0; i--) {
            Node n = nodes.get(i);
            Value gOut = grads.get(n.output().id());
            if (gOut == null || !reached.contains(n.output().id()) || n.inputs().isEmpty()) {
                continue;
            }
            Gradient rule = n.op().gradient();
            if (rule == null) {
                throw new IllegalArgumentException(n.kind() + " has no gradient yet, and the loss depends on it"
                        + (n.location() == null ? "" : " (at " + n.location() + ")"));
            }
            g.at(n.location() == null ? "backward of " + n.kind() : n.location() + " (backward)");
            List<Value> inputGrads = rule.backward(g, n, gOut);
            for (int j = 0; j < n.inputs().size(); j++) {
                Value in = n.input(j);
                Value d = j < inputGrads.size() ? inputGrads.get(j) : null;
                if (d != null && reached.contains(in.id())) {
                    Value sum = grads.get(in.id());
                    grads.put(in.id(), sum == null ? d : g.add(sum, d));
                }
            }
        }

        Map<String, Value> outputs = new LinkedHashMap<>();
        forward.outputs().forEach((name, v) -> outputs.put(name, copy.get(v.id())));
        for (String name : wrt) {
            Value in = copy.get(forward.inputs().get(name).id());
            Value d = grads.get(in.id());
            outputs.put(GRAD + name, d != null ? d : g.constant(GRAD + name + ".zero", Gradients.zeros(in)));
        }
        outputs.forEach(g::output);
        Graph result = g.build();
        if (activations == Activations.KEEP) {
            return result;
        }
        if (result.nodes().get(nodes.size() - 1).output().id()
                != nodes.getLast().output().id()) {
            throw new IllegalStateException("differentiate: the forward copy is not the graph's prefix");
        }
        Rematerialization.Result r = Rematerialization.apply(result, nodes.size());
        log.add(r.summary());
        return r.graph();
    }
}
