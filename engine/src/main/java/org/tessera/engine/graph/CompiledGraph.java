package org.tessera.engine.graph;

import java.util.List;
import java.util.Map;
import org.tessera.engine.backend.Backend;
import org.tessera.engine.backend.PackedMatrix;

/**
 * An optimised graph bound to a backend, with packed weights and a memory plan. Immutable and
 * shareable between threads: each concurrent caller runs it through its own {@link Execution}.
 */
public final class CompiledGraph {
    private final Graph graph;
    private final Backend backend;
    private final MemoryPlan plan;
    private final Map<Integer, PackedMatrix> packed;
    private final Map<Integer, org.tessera.engine.tensor.Tensor> placed;
    private final List<String> passLog;
    private final long flops;

    CompiledGraph(
            Graph graph,
            Backend backend,
            MemoryPlan plan,
            Map<Integer, PackedMatrix> packed,
            Map<Integer, org.tessera.engine.tensor.Tensor> placed,
            List<String> passLog) {
        this.placed = placed;
        this.graph = graph;
        this.backend = backend;
        this.plan = plan;
        this.packed = packed;
        this.passLog = List.copyOf(passLog);
        this.flops = graph.nodes().stream().mapToLong(Node::flops).sum();
    }

    /** A new execution with its own buffers (one slab); one per concurrent caller. */
    public Execution newExecution() {
        return new Execution(this);
    }

    /** The memory plan's slab size in bytes. */
    public long bufferBytes() {
        return plan.slabBytes();
    }

    /** What each pass did, one line per pass, e.g. {@code fusion: 28 linear+gelu, 29 layernorm+modulate}. */
    public List<String> passLog() {
        return passLog;
    }

    /** The graph after the passes: what actually runs. */
    public Graph optimizedGraph() {
        return graph;
    }

    /** Total FLOPs of one run. */
    public long flops() {
        return flops;
    }

    /** The backend the kernels run on. */
    public Backend backend() {
        return backend;
    }

    MemoryPlan plan() {
        return plan;
    }

    /** A constant node's value where the backend's kernels read it (uploaded once for a device backend). */
    org.tessera.engine.tensor.Tensor constant(Node constant) {
        org.tessera.engine.tensor.Tensor t = placed.get(constant.output().id());
        return t != null ? t : ((SourceOps.Constant) constant.op()).value();
    }

    /** The packed weightᵀ of a linear node, or null when its weight is not a constant. */
    PackedMatrix packedWeight(Node linear) {
        return packed.get(linear.input(1).id());
    }

    @Override
    public String toString() {
        return "CompiledGraph[" + graph.nodes().size() + " nodes on " + backend.name() + ", slab "
                + org.tessera.engine.tensor.ByteSizes.format(plan.slabBytes()) + "]";
    }
}
