package org.tessera.engine.graph;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.tessera.engine.backend.Backend;
import org.tessera.engine.backend.PackedMatrix;
import org.tessera.engine.tensor.ByteSizes;

/**
 * Compiles a {@link Graph} for a {@link Backend}: runs the passes, packs the linear weights and
 * lays out memory.
 *
 * <p>Passes, in order: dead-node removal (from the outputs back); constant folding; fusion
 * (linear → gelu/silu into the GEMM epilogue, affine-free layerNorm → modulate into one pass);
 * layout (views vs copies, contiguous copies where a kernel needs them); constant folding again
 * (for copies of constants the layout pass added); dead-node removal again; then weight packing
 * and the {@link MemoryPlan}. Each step writes a line to {@link CompiledGraph#passLog()}.
 */
public final class Planner {
    private Planner() {}

    /**
     * Which optimisations run. Turning them off gives the reference the optimised plan is tested against.
     *
     * @param foldConstants evaluate constant subgraphs at compile time
     * @param fuse merge producer–consumer pairs (linear+activation, layerNorm+modulate)
     * @param reuseMemory let values with disjoint lifetimes share slab memory
     */
    public record Options(boolean foldConstants, boolean fuse, boolean reuseMemory) {
        /** Everything on. */
        public static final Options DEFAULT = new Options(true, true, true);
    }

    /** Runs the passes and lays out memory; weights of linear layers are packed here, once. */
    public static CompiledGraph compile(Graph graph, Backend backend) {
        return compile(graph, backend, Options.DEFAULT);
    }

    /** {@link #compile(Graph, Backend)} with chosen optimisations. */
    public static CompiledGraph compile(Graph graph, Backend backend, Options options) {
        return compile(graph, backend, options, t -> {});
    }

    /**
     * {@link #compile(Graph, Backend, Options)}, handing {@code packedOnly} each weight right
     * after it has been packed when nothing else in the plan reads it: the caller may then free
     * it (random weights) or drop its pages (a memory-mapped checkpoint), so that a model is not
     * held twice — original and packed — in memory.
     */
    public static CompiledGraph compile(
            Graph graph,
            Backend backend,
            Options options,
            java.util.function.Consumer<org.tessera.engine.tensor.Tensor> packedOnly) {
        Backend host = backend.onHost()
                ? backend
                : org.tessera.engine.backend.Backends.cpu(new org.tessera.engine.parallel.WorkerPool(1), m -> {});
        return compile(graph, backend, host, options, packedOnly);
    }

    /**
     * {@link #compile(Graph, Backend, Options, java.util.function.Consumer)} for a device backend,
     * folding constants on {@code host} (a CPU backend: constants are host tensors).
     */
    public static CompiledGraph compile(
            Graph graph,
            Backend backend,
            Backend host,
            Options options,
            java.util.function.Consumer<org.tessera.engine.tensor.Tensor> packedOnly) {
        if (!host.onHost()) {
            throw new IllegalArgumentException("compile: constants fold on a host backend, got " + host.name());
        }
        List<String> log = new ArrayList<>();
        Graph g = DeadNodeElimination.apply(graph, log);
        if (options.foldConstants()) {
            g = ConstantFolding.apply(g, host, log);
        }
        if (options.fuse()) {
            g = Fusion.apply(g, log);
        }
        g = LayoutPass.apply(g, log);
        if (options.foldConstants()) {
            g = ConstantFolding.apply(g, host, log);
        }
        g = DeadNodeElimination.apply(g, log);
        Map<Integer, PackedMatrix> packed = packWeights(g, backend, log, packedOnly);
        Map<Integer, org.tessera.engine.tensor.Tensor> placed = placeConstants(g, backend, log);
        MemoryPlan plan = MemoryPlan.of(g, options.reuseMemory());
        log.add(String.format(
                Locale.ROOT,
                "memory: %d buffers in a %s slab (%s without reuse)",
                plan.buffers(),
                ByteSizes.format(plan.slabBytes()),
                ByteSizes.format(plan.unsharedBytes())));
        return new CompiledGraph(g, backend, plan, packed, placed, log);
    }

    /**
     * On a device backend, uploads once every constant that a kernel reads directly (weights
     * that only feed a linear were uploaded by packing). The CPU reads constants where they are.
     */
    private static Map<Integer, org.tessera.engine.tensor.Tensor> placeConstants(
            Graph g, Backend backend, List<String> log) {
        if (backend.onHost()) {
            return Map.of();
        }
        java.util.Set<Integer> read = new java.util.HashSet<>();
        for (Node n : g.nodes()) {
            for (int i = 0; i < n.inputs().size(); i++) {
                if (!(n.op() instanceof ProductOps.Linear)
                        || i != 1
                        || !(g.producer(n.input(1)).op() instanceof SourceOps.Constant)) {
                    read.add(n.input(i).id());
                }
            }
        }
        read.addAll(g.outputs().values().stream().map(Value::id).toList());
        Map<Integer, org.tessera.engine.tensor.Tensor> placed = new HashMap<>();
        long bytes = 0;
        for (Node n : g.nodes()) {
            if (n.op() instanceof SourceOps.Constant c
                    && read.contains(n.output().id())) {
                try {
                    placed.put(n.output().id(), backend.memory().place(c.value()));
                } catch (RuntimeException e) {
                    throw new GraphExecutionException(n, "while copying it to the device", e);
                }
                bytes += n.output().byteSize();
            }
        }
        log.add("constants: " + placed.size() + " copied to "
                + backend.memory().device().shortName() + " (" + ByteSizes.format(bytes) + ")");
        return Map.copyOf(placed);
    }

    /**
     * Packs weightᵀ of every linear whose weight is a constant, once per distinct weight, into an
     * automatic arena that lives as long as the compiled graph.
     */
    private static Map<Integer, PackedMatrix> packWeights(
            Graph g,
            Backend backend,
            List<String> log,
            java.util.function.Consumer<org.tessera.engine.tensor.Tensor> packedOnly) {
        Map<Integer, PackedMatrix> packed = new HashMap<>();
        // Constants read by anything other than a linear's weight slot stay needed after packing.
        java.util.Set<Integer> readElsewhere = new java.util.HashSet<>();
        for (Node n : g.nodes()) {
            for (int i = 0; i < n.inputs().size(); i++) {
                if (!(n.op() instanceof ProductOps.Linear) || i != 1) {
                    readElsewhere.add(n.input(i).id());
                }
            }
        }
        readElsewhere.addAll(g.outputs().values().stream().map(Value::id).toList());
        Arena arena = Arena.ofAuto();
        long bytes = 0;
        for (Node n : g.nodes()) {
            if (!(n.op() instanceof ProductOps.Linear)) {
                continue;
            }
            Value w = n.input(1);
            if (packed.containsKey(w.id()) || !(g.producer(w).op() instanceof SourceOps.Constant c)) {
                continue;
            }
            try {
                packed.put(w.id(), backend.gemm().pack(c.value().t(), arena));
            } catch (RuntimeException e) {
                throw new GraphExecutionException(n, "while packing its weight", e);
            }
            if (!readElsewhere.contains(w.id())) {
                packedOnly.accept(c.value());
            }
            bytes += w.byteSize();
        }
        if (!packed.isEmpty()) {
            log.add("weights: packed " + packed.size() + " linear weight" + (packed.size() == 1 ? "" : "s") + " ("
                    + ByteSizes.format(bytes) + ")");
        }
        return Map.copyOf(packed);
    }
}
