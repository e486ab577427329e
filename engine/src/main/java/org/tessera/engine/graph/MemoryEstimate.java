package org.tessera.engine.graph;

import java.util.HashSet;
import java.util.Set;

/**
 * What a graph will need in memory, known before anything is allocated: its constants (the
 * weights, which packing or random initialisation materialise) and the slab of its intermediate
 * values, planned as the executor plans them. The graph is taken before fusion, so the slab is a
 * little larger than the real one: an estimate that errs on the side of refusing early.
 *
 * @param constantBytes distinct constants, at their declared shapes (a placeholder weight counts
 *     as the weight it stands for)
 * @param bufferBytes the planned slab of one execution
 */
public record MemoryEstimate(long constantBytes, long bufferBytes) {
    /** Estimates {@code graph}; its constants may be shape-only placeholders. */
    public static MemoryEstimate of(Graph graph) {
        return new MemoryEstimate(
                constantBytes(graph), MemoryPlan.of(graph, true).slabBytes());
    }

    /** The constants alone: what the weights take whatever the batch. */
    public static long constantBytes(Graph graph) {
        long constants = 0;
        Set<Integer> seen = new HashSet<>();
        for (Node n : graph.nodes()) {
            if (n.op() instanceof SourceOps.Constant && seen.add(n.output().id())) {
                constants += n.output().byteSize();
            }
        }
        return constants;
    }

    /** Constants and buffers together. */
    public long totalBytes() {
        return constantBytes + bufferBytes;
    }
}
