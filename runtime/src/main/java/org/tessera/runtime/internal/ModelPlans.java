package org.tessera.runtime.internal;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.function.Function;
import org.tessera.engine.graph.CompiledGraph;
import org.tessera.engine.graph.Execution;
import org.tessera.engine.tensor.Tensor;

/**
 * The compiled plans of one model, one per set of input shapes (a batch size, a latent size),
 * made on first use and kept: a caller may change the batch after compiling and pays the
 * compilation once per shape. Each plan keeps one {@link Execution} per concurrent caller.
 *
 * <p>Thread-safe. Each plan holds its own packed weights, so a model used at many shapes holds
 * them many times; the pipeline's own shape is compiled first, up front.
 */
public final class ModelPlans implements AutoCloseable {
    /** One compiled graph and its idle executions. */
    public static final class Plan {
        private final CompiledGraph graph;
        private final ConcurrentLinkedQueue<Execution> idle = new ConcurrentLinkedQueue<>();
        private final List<Execution> all = new ArrayList<>();

        Plan(CompiledGraph graph) {
            this.graph = graph;
        }

        public CompiledGraph graph() {
            return graph;
        }

        /** An execution for this caller alone; give it back with {@link #release}. */
        public Execution acquire() {
            Execution e = idle.poll();
            if (e != null) {
                return e;
            }
            synchronized (all) {
                Execution fresh = graph.newExecution();
                all.add(fresh);
                return fresh;
            }
        }

        public void release(Execution e) {
            idle.add(e);
        }

        /** Runs {@code inputs} on an idle execution and returns copies of the outputs. */
        public Map<String, Tensor> run(Map<String, Tensor> inputs) {
            Execution e = acquire();
            try {
                Map<String, Tensor> out = new LinkedHashMap<>();
                e.run(inputs).forEach((k, v) -> out.put(k, copy(v)));
                return out;
            } finally {
                release(e);
            }
        }

        void close(List<RuntimeException> failures) {
            synchronized (all) {
                for (Execution e : all) {
                    try {
                        e.close();
                    } catch (RuntimeException ex) {
                        failures.add(ex); // keep closing the rest
                    }
                }
                all.clear();
            }
        }
    }

    private final Function<Map<String, int[]>, CompiledGraph> compiler;
    private final Map<String, Plan> plans = new LinkedHashMap<>();

    /** @param compiler lowers and plans the model for the given input shapes (by input name) */
    public ModelPlans(Function<Map<String, int[]>, CompiledGraph> compiler) {
        this.compiler = compiler;
    }

    /** The plan for {@code shapes} (input name → shape), compiled now if it is new. */
    public Plan plan(Map<String, int[]> shapes) {
        String key = key(shapes);
        synchronized (plans) {
            Plan p = plans.get(key);
            if (p == null) {
                p = new Plan(compiler.apply(shapes));
                plans.put(key, p);
            }
            return p;
        }
    }

    /** How many shapes have a compiled plan. */
    public int size() {
        synchronized (plans) {
            return plans.size();
        }
    }

    private static String key(Map<String, int[]> shapes) {
        StringBuilder sb = new StringBuilder();
        shapes.forEach((k, v) -> sb.append(k).append(Arrays.toString(v)).append(';'));
        return sb.toString();
    }

    static Tensor copy(Tensor t) {
        Tensor c = Tensor.zeros(t.dtype(), t.shape());
        c.copyFrom(t);
        return c;
    }

    @Override
    public void close() {
        List<RuntimeException> failures = new ArrayList<>();
        synchronized (plans) {
            plans.values().forEach(p -> p.close(failures));
            plans.clear();
        }
        if (!failures.isEmpty()) {
            RuntimeException first = failures.get(0);
            failures.subList(1, failures.size()).forEach(first::addSuppressed);
            throw first;
        }
    }
}
