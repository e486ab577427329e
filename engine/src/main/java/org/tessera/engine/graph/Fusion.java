package org.tessera.engine.graph;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.tessera.engine.backend.Activation;

/**
 * Merges producer–consumer pairs into one node when the intermediate value has no other use and
 * is not an output:
 * <ul>
 *   <li>linear → gelu / silu becomes a linear with the activation in the GEMM epilogue, applied
 *       to each output tile while it is still in cache;</li>
 *   <li>affine-free layerNorm → modulate (as x) becomes one layerNormModulate pass;</li>
 *   <li>groupNorm → silu / gelu becomes one groupNorm pass that writes the activation (a VAE).</li>
 * </ul>
 * The fused node takes the consumer's place and output, so every operand is still defined before it.
 */
final class Fusion {
    private Fusion() {}

    static Graph apply(Graph g, List<String> log) {
        Map<Integer, Integer> uses = g.useCounts();
        List<Node> nodes = g.nodes();
        Map<Integer, Integer> indexOf = new HashMap<>();
        for (int i = 0; i < nodes.size(); i++) {
            indexOf.put(nodes.get(i).output().id(), i);
        }
        Node[] result = nodes.toArray(Node[]::new);
        int gelu = 0;
        int silu = 0;
        int norms = 0;
        int groupNorms = 0;
        for (int j = 0; j < nodes.size(); j++) {
            Node consumer = nodes.get(j);
            if (consumer.inputs().isEmpty()) {
                continue;
            }
            Value x = consumer.input(0);
            if (uses.getOrDefault(x.id(), 0) != 1) {
                continue;
            }
            int i = indexOf.get(x.id());
            Node producer = result[i];
            if (producer == null) {
                continue;
            }
            if (consumer.op() instanceof PointwiseOps.Activate a
                    && a.activation() != Activation.NONE
                    && producer.op() instanceof ProductOps.Linear l
                    && l.activation() == Activation.NONE) {
                result[j] = new Node(
                        new ProductOps.Linear(a.activation(), l.hasBias()),
                        producer.inputs(),
                        consumer.output(),
                        producer.location());
                result[i] = null;
                if (a.activation() == Activation.GELU_TANH) {
                    gelu++;
                } else {
                    silu++;
                }
            } else if (consumer.op() instanceof PointwiseOps.Activate a
                    && a.activation() != Activation.NONE
                    && producer.op() instanceof NormalizationOps.GroupNorm gn
                    && gn.activation() == Activation.NONE) {
                result[j] = new Node(
                        new NormalizationOps.GroupNorm(
                                gn.groups(), gn.eps(), gn.hasWeight(), gn.hasBias(), a.activation()),
                        producer.inputs(),
                        consumer.output(),
                        producer.location());
                result[i] = null;
                groupNorms++;
            } else if (consumer.op() instanceof PointwiseOps.Modulate
                    && producer.op() instanceof NormalizationOps.LayerNorm ln
                    && !ln.hasWeight()
                    && !ln.hasBias()) {
                result[j] = new Node(
                        new NormalizationOps.LayerNormModulate(ln.eps()),
                        List.of(producer.input(0), consumer.input(1), consumer.input(2)),
                        consumer.output(),
                        consumer.location());
                result[i] = null;
                norms++;
            }
        }
        if (gelu + silu + norms + groupNorms == 0) {
            return g;
        }
        List<Node> out = new ArrayList<>();
        for (Node n : result) {
            if (n != null) {
                out.add(n);
            }
        }
        List<String> parts = new ArrayList<>();
        if (gelu > 0) {
            parts.add(gelu + " linear+gelu");
        }
        if (silu > 0) {
            parts.add(silu + " linear+silu");
        }
        if (norms > 0) {
            parts.add(norms + " layernorm+modulate");
        }
        if (groupNorms > 0) {
            parts.add(groupNorms + " groupnorm+activation");
        }
        log.add("fusion: " + String.join(", ", parts));
        return g.withNodes(out, g.nextValueId());
    }
}
