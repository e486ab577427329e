package org.tessera.engine.graph;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.function.Executable;
import org.tessera.engine.backend.Backend;
import org.tessera.engine.cpu.VectorKernels;
import org.tessera.engine.parallel.WorkerPool;
import org.tessera.engine.random.RandomStream;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Tensor;

/** Shared backend, random data, compile-and-run and tolerant comparison for the graph tests. */
final class GraphTesting {
    static final WorkerPool POOL = new WorkerPool(2);
    static final Backend BACKEND = VectorKernels.backend(POOL);

    private GraphTesting() {}

    /** A contiguous N(0, 1) tensor, reproducible from {@code seed}. */
    static Tensor randn(long seed, int... shape) {
        Tensor t = Tensor.zeros(DType.F32, shape);
        new RandomStream(seed, 0).fillNormal(t, POOL);
        return t;
    }

    /** A fresh row-major copy (outputs are views of an execution's slab). */
    static Tensor copy(Tensor t) {
        Tensor c = Tensor.zeros(t.dtype(), t.shape());
        c.copyFrom(t);
        return c;
    }

    /** Alternating name, tensor pairs. */
    static Map<String, Tensor> inputs(Object... pairs) {
        Map<String, Tensor> m = new LinkedHashMap<>();
        for (int i = 0; i < pairs.length; i += 2) {
            m.put((String) pairs[i], (Tensor) pairs[i + 1]);
        }
        return m;
    }

    /** Compiles with {@code options}, runs once, and returns copies of the outputs. */
    static Map<String, Tensor> run(Graph g, Planner.Options options, Map<String, Tensor> inputs) {
        CompiledGraph cg = Planner.compile(g, BACKEND, options);
        try (Execution ex = cg.newExecution()) {
            Map<String, Tensor> out = new LinkedHashMap<>();
            ex.run(inputs).forEach((k, v) -> out.put(k, copy(v)));
            return out;
        }
    }

    /** The single output "y" of a default compile and run. */
    static Tensor runY(GraphBuilder b, Map<String, Tensor> inputs) {
        return run(b.build(), Planner.Options.DEFAULT, inputs).get("y");
    }

    /** |actual − expected| ≤ abs + rel·|expected| elementwise. */
    static void assertClose(Tensor expected, Tensor actual, double rel, double abs, String what) {
        assertEquals(Arrays.toString(expected.shape()), Arrays.toString(actual.shape()), what + ": shape");
        float[] e = expected.toFloatArray();
        float[] a = actual.toFloatArray();
        for (int i = 0; i < e.length; i++) {
            double tol = abs + rel * Math.abs(e[i]);
            if (!(Math.abs(a[i] - e[i]) <= tol)) {
                fail(what + ": element " + i + " of " + Arrays.toString(expected.shape()) + " is " + a[i]
                        + ", expected " + e[i] + " (tolerance " + tol + ")");
            }
        }
    }

    static void assertClose(Tensor expected, Tensor actual, String what) {
        assertClose(expected, actual, 1e-5, 1e-5, what);
    }

    /** Bitwise equality of two float tensors. */
    static void assertSame(Tensor expected, Tensor actual, String what) {
        assertEquals(Arrays.toString(expected.shape()), Arrays.toString(actual.shape()), what + ": shape");
        float[] e = expected.toFloatArray();
        float[] a = actual.toFloatArray();
        for (int i = 0; i < e.length; i++) {
            if (Float.floatToIntBits(e[i]) != Float.floatToIntBits(a[i])) {
                fail(what + ": element " + i + " is " + a[i] + ", expected exactly " + e[i]);
            }
        }
    }

    /** See {@link org.tessera.engine.ShapeErrors#assertShapeError}. */
    static void assertShapeError(String op, Executable body, String... fragments) {
        org.tessera.engine.ShapeErrors.assertShapeError(op, body, fragments);
    }
}
