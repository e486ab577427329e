package org.tessera.engine.graph;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import org.tessera.engine.backend.Backend;
import org.tessera.engine.backend.MemoryOps;
import org.tessera.engine.backend.PackedMatrix;
import org.tessera.engine.tensor.ShapeMismatchException;
import org.tessera.engine.tensor.Shapes;
import org.tessera.engine.tensor.Tensor;

/**
 * One caller's state for running a {@link CompiledGraph}: a slab (one shared-arena allocation)
 * holding every intermediate value at its planned offset, the tensor views over it, and one
 * prepared step per computing node. All of that is built here, once; {@link #run} only copies
 * the inputs in and calls the kernels, so steady-state runs allocate nothing.
 *
 * <p>On a device backend (CUDA) the slab is device memory, inputs are copied in and outputs
 * copied back to host tensors on every run, and the step loop is handed to the backend's
 * {@link MemoryOps#replayable} so that the GPU replays it as one graph.
 *
 * <p>An execution is for one thread at a time (concurrent callers each take their own);
 * {@link #close()} frees the slab.
 */
public final class Execution implements AutoCloseable {
    private final Arena arena;
    private final MemoryOps.Allocation slabMemory;
    private final MemoryOps memory;
    private final boolean onHost;
    private final Runnable forward;
    private int current;
    private final Tensor[] deviceOutputs;
    private final Tensor[] hostOutputs;
    /** Device memory the steps keep (small constants of scalar ops), freed with the execution. */
    private final List<AutoCloseable> owned = new ArrayList<>();

    private final String[] inputNames;
    private final Value[] inputValues;
    private final Tensor[] inputTensors;
    private final Runnable[] steps;
    private final Node[] stepNodes;
    private final Map<String, Tensor> outputs;
    private final AtomicBoolean busy = new AtomicBoolean();
    private volatile boolean closed;

    Execution(CompiledGraph compiled) {
        Graph g = compiled.optimizedGraph();
        MemoryPlan plan = compiled.plan();
        Backend backend = compiled.backend();
        this.memory = backend.memory();
        this.onHost = backend.onHost();
        this.arena = Arena.ofShared();
        MemoryOps.Allocation slabAlloc = null;
        try {
            MemorySegment slab;
            if (onHost) {
                slab = arena.allocate(Math.max(plan.slabBytes(), MemoryPlan.ALIGNMENT), MemoryPlan.ALIGNMENT);
            } else {
                slabAlloc = memory.allocate(
                        Math.max(plan.slabBytes(), MemoryPlan.ALIGNMENT),
                        "the memory plan (" + org.tessera.engine.tensor.ByteSizes.format(plan.slabBytes()) + ")");
                slab = slabAlloc.segment();
            }
            Tensor[] tensors = new Tensor[g.nextValueId()];
            List<Runnable> stepList = new ArrayList<>();
            List<Node> nodeList = new ArrayList<>();
            for (Node n : g.nodes()) {
                Value v = n.output();
                Op op = n.op();
                if (op instanceof SourceOps.Constant) {
                    tensors[v.id()] = compiled.constant(n);
                } else if (op.isView()) {
                    tensors[v.id()] = op.view(tensors[n.input(0).id()]);
                } else {
                    long offset = plan.offset(v.id());
                    tensors[v.id()] = memory.tensor(slab.asSlice(offset, v.byteSize()), v.dtype(), v.shape());
                    if (!(op instanceof SourceOps.Input)) {
                        Tensor[] in = new Tensor[n.inputs().size()];
                        for (int i = 0; i < in.length; i++) {
                            in[i] = tensors[n.input(i).id()];
                        }
                        PackedMatrix packed = op instanceof ProductOps.Linear ? compiled.packedWeight(n) : null;
                        stepList.add(NodeKernels.step(
                                compiled.backend(), n, in, tensors[v.id()], packed, arena, owned::add));
                        nodeList.add(n);
                    }
                }
            }
            this.steps = stepList.toArray(Runnable[]::new);
            this.stepNodes = nodeList.toArray(Node[]::new);
            int count = g.inputs().size();
            this.inputNames = new String[count];
            this.inputValues = new Value[count];
            this.inputTensors = new Tensor[count];
            int i = 0;
            for (Map.Entry<String, Value> e : g.inputs().entrySet()) {
                inputNames[i] = e.getKey();
                inputValues[i] = e.getValue();
                inputTensors[i] = tensors[e.getValue().id()];
                i++;
            }
            Map<String, Tensor> outs = new LinkedHashMap<>();
            List<Tensor> devOuts = new ArrayList<>();
            List<Tensor> hostOuts = new ArrayList<>();
            g.outputs().forEach((name, v) -> {
                Tensor t = tensors[v.id()];
                if (!onHost) {
                    // Device results come back into host tensors of this execution.
                    Tensor h = Tensor.zeros(arena, v.dtype(), v.shape());
                    devOuts.add(t);
                    hostOuts.add(h);
                    t = h;
                }
                outs.put(name, t);
            });
            this.outputs = Collections.unmodifiableMap(outs);
            this.deviceOutputs = devOuts.toArray(Tensor[]::new);
            this.hostOutputs = hostOuts.toArray(Tensor[]::new);
            this.slabMemory = slabAlloc;
            this.forward = memory.replayable(this::runSteps);
        } catch (RuntimeException | Error e) {
            closeOwned();
            if (slabAlloc != null) {
                slabAlloc.close();
            }
            arena.close();
            throw e;
        }
    }

    /** Frees the device memory the steps kept; one that fails to free does not stop the others. */
    private void closeOwned() {
        for (AutoCloseable a : owned) {
            try {
                a.close();
            } catch (Exception ignored) {
                // free what can be freed; a failure here has nothing the caller could act on
            }
        }
    }

    private void runSteps() {
        for (current = 0; current < steps.length; current++) {
            steps[current].run();
        }
    }

    /**
     * The exception for a failed run, naming the node: the step that threw, or — for an error a
     * device reports later, when no step is current (a replayed graph, a synchronise) — the
     * embedding lookup for a bad id, else the last step.
     */
    private RuntimeException failure(RuntimeException e) {
        if (stepNodes.length == 0) {
            return e;
        }
        Node node;
        if (current >= 0 && current < stepNodes.length) {
            node = stepNodes[current];
        } else {
            node = stepNodes[stepNodes.length - 1];
            if (e instanceof IndexOutOfBoundsException) {
                for (Node n : stepNodes) {
                    if (n.op() instanceof TableOps.Embedding) {
                        node = n;
                        break;
                    }
                }
            }
        }
        return new GraphExecutionException(node, null, e);
    }

    /**
     * Runs the graph. The returned tensors are views of this execution's buffers, valid until
     * the next run (copy them to keep them).
     *
     * @throws IllegalArgumentException naming the input when one is missing, unknown, or (as a
     *     {@link ShapeMismatchException}) has the wrong shape or dtype
     * @throws GraphExecutionException naming the node's location and op when a kernel fails
     */
    public Map<String, Tensor> run(Map<String, Tensor> inputs) {
        return run(inputs, null);
    }

    /** Like {@link #run(Map)}, also adding each node's wall time to {@code profile} (when not null). */
    public Map<String, Tensor> run(Map<String, Tensor> inputs, Profile profile) {
        Object lock = memory.runLock();
        if (lock == null) {
            return runUnlocked(inputs, profile);
        }
        synchronized (lock) {
            return runUnlocked(inputs, profile);
        }
    }

    private Map<String, Tensor> runUnlocked(Map<String, Tensor> inputs, Profile profile) {
        if (!busy.compareAndSet(false, true)) {
            throw new IllegalStateException("run: this Execution is already running on another thread;"
                    + " use one Execution per concurrent caller");
        }
        try {
            if (closed) {
                throw new IllegalStateException("run: this Execution is closed");
            }
            copyInputs(inputs);
            current = -1;
            try {
                if (profile == null) {
                    forward.run();
                } else {
                    profile.beginRun();
                    for (current = 0; current < steps.length; current++) {
                        long t0 = System.nanoTime();
                        steps[current].run();
                        if (!onHost) {
                            memory.synchronize(); // time the kernel, not its launch
                        }
                        profile.record(stepNodes[current], System.nanoTime() - t0);
                    }
                    profile.countRun();
                }
                if (!onHost) {
                    // Asynchronous failures surface here; the copies back need the results anyway.
                    memory.synchronize();
                    for (int o = 0; o < deviceOutputs.length; o++) {
                        memory.copy(deviceOutputs[o], hostOutputs[o]);
                    }
                }
            } catch (RuntimeException e) {
                throw failure(e);
            }
            return outputs;
        } finally {
            busy.set(false);
        }
    }

    /** Checks every declared input against the given tensors and copies it into its buffer. */
    private void copyInputs(Map<String, Tensor> given) {
        if (given.size() != inputNames.length) {
            for (String name : given.keySet()) {
                if (!List.of(inputNames).contains(name)) {
                    throw new IllegalArgumentException(
                            "run: unknown input '" + name + "'; the graph takes " + List.of(inputNames));
                }
            }
        }
        for (int i = 0; i < inputNames.length; i++) {
            Tensor t = given.get(inputNames[i]);
            Value v = inputValues[i];
            if (t == null) {
                throw new IllegalArgumentException("run: missing input '" + inputNames[i] + "' ("
                        + v.dtype().shortName() + Shapes.toString(v.shape()) + ")");
            }
            if (!fits(t, v)) {
                throw new ShapeMismatchException(
                        "input '" + inputNames[i] + "': expected " + v.dtype().shortName() + Shapes.toString(v.shape())
                                + ", got " + t.dtype().shortName() + Shapes.toString(t.shape()));
            }
            if (onHost) {
                inputTensors[i].copyFrom(t);
            } else {
                memory.copy(t, inputTensors[i]);
            }
        }
    }

    /** Shape and dtype match, checked without allocating. */
    private static boolean fits(Tensor t, Value v) {
        if (t.dtype() != v.dtype() || t.rank() != v.rank()) {
            return false;
        }
        for (int d = 0; d < t.rank(); d++) {
            if (t.size(d) != v.size(d)) {
                return false;
            }
        }
        return true;
    }

    /** Frees this execution's buffers; tensors it returned become invalid. */
    @Override
    public void close() {
        Object lock = memory.runLock();
        synchronized (lock != null ? lock : this) { // never free a slab that a run on the device still uses
            if (closed) {
                return;
            }
            closed = true;
            try {
                if (forward instanceof AutoCloseable c) {
                    c.close();
                }
            } catch (Exception e) {
                // releasing a recorded graph cannot fail in a way the caller could act on
            } finally {
                try {
                    closeOwned();
                    if (slabMemory != null) {
                        slabMemory.close();
                    }
                } finally {
                    arena.close();
                }
            }
        }
    }
}
