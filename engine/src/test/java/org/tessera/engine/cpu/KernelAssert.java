package org.tessera.engine.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.Arrays;
import org.junit.jupiter.api.function.Executable;
import org.tessera.engine.parallel.WorkerPool;
import org.tessera.engine.random.RandomStream;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Tensor;

/** Random inputs and tolerant comparisons for the kernel property tests. */
final class KernelAssert {
    private static final WorkerPool FILL_POOL = new WorkerPool(1);

    private KernelAssert() {}

    /** A contiguous N(0, 1)·scale tensor, reproducible from {@code seed}. */
    static Tensor randn(long seed, float scale, int... shape) {
        Tensor t = Tensor.zeros(DType.F32, shape);
        new RandomStream(seed, 0).fillNormal(t, FILL_POOL);
        if (scale != 1f) {
            float[] v = t.toFloatArray();
            for (int i = 0; i < v.length; i++) {
                v[i] *= scale;
            }
            return Tensor.of(v, shape);
        }
        return t;
    }

    static Tensor randn(long seed, int... shape) {
        return randn(seed, 1f, shape);
    }

    /** |actual − expected| ≤ abs + rel·|expected| elementwise (NaNs must match). */
    static void assertClose(Tensor expected, Tensor actual, double rel, double abs, String what) {
        assertEquals(Arrays.toString(expected.shape()), Arrays.toString(actual.shape()), what + ": shape");
        float[] e = expected.toFloatArray();
        float[] a = actual.toFloatArray();
        for (int i = 0; i < e.length; i++) {
            if (Float.isNaN(e[i]) && Float.isNaN(a[i])) {
                continue;
            }
            double tol = abs + rel * Math.abs(e[i]);
            if (!(Math.abs(a[i] - e[i]) <= tol)) {
                fail(what + ": element " + i + " of " + Arrays.toString(expected.shape()) + " is " + a[i]
                        + ", expected " + e[i] + " (tolerance " + tol + ")");
            }
        }
    }

    /** See {@link org.tessera.engine.ShapeErrors#assertShapeError}. */
    static void assertShapeError(String op, Executable body, String... fragments) {
        org.tessera.engine.ShapeErrors.assertShapeError(op, body, fragments);
    }
}
