package org.tessera.engine.cpu;

import static org.tessera.engine.cpu.KernelAssert.assertClose;
import static org.tessera.engine.cpu.KernelAssert.assertShapeError;

import java.lang.foreign.Arena;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.tessera.engine.backend.TableOps;
import org.tessera.engine.parallel.WorkerPool;
import org.tessera.engine.reference.ScalarTables;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Tensor;

/** The sinusoidal tables against the scalar reference (both use double trigonometry, so they agree to rounding). */
class TablesPropertyTest {
    private static final WorkerPool ONE = new WorkerPool(1);
    private static final WorkerPool THREE = new WorkerPool(3);
    private static final TableOps REF = new ScalarTables();

    @AfterAll
    static void close() {
        ONE.close();
        THREE.close();
    }

    private static TableOps vector(int threads) {
        return new VectorTables(threads == 1 ? ONE : THREE);
    }

    private static Tensor ramp(int n, double step) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) (i * step);
        }
        return Tensor.of(v, n);
    }

    @ParameterizedTest(name = "threads={0}")
    @ValueSource(ints = {1, 3})
    void timestepEmbeddingMatchesReference(int threads) {
        Tensor[] times = {
            Tensor.of(new float[] {0f, 1f, 500.5f, 999f}, 4),
            Tensor.ofLongs(Arena.ofAuto(), new long[] {0, 3, 250, 999, 1000}, 5),
            ramp(200, 4.99),
        };
        for (Tensor t : times) {
            for (int dim : new int[] {1, 2, 7, 33, 256, 257}) {
                for (double maxPeriod : new double[] {10000, 100}) {
                    Tensor expected = Tensor.zeros(DType.F32, t.size(0), dim);
                    REF.timestepEmbedding(t, maxPeriod, expected);
                    Tensor out = Tensor.zeros(DType.F32, t.size(0), dim);
                    vector(threads).timestepEmbedding(t, maxPeriod, out);
                    assertClose(expected, out, 0, 1e-7, "timestepEmbedding dim=" + dim + " " + t);
                }
            }
        }
    }

    @ParameterizedTest(name = "threads={0}")
    @ValueSource(ints = {1, 3})
    void sinCos1dMatchesReference(int threads) {
        for (Tensor p : new Tensor[] {ramp(1, 1), ramp(17, 1), ramp(9, 0.37), ramp(300, 1)}) {
            for (int dim : new int[] {2, 16, 34, 1152}) {
                Tensor expected = Tensor.zeros(DType.F32, p.size(0), dim);
                REF.sinCos1d(p, expected);
                Tensor out = Tensor.zeros(DType.F32, p.size(0), dim);
                vector(threads).sinCos1d(p, out);
                assertClose(expected, out, 0, 1e-7, "sinCos1d dim=" + dim + " L=" + p.size(0));
            }
        }
    }

    @ParameterizedTest(name = "threads={0}")
    @ValueSource(ints = {1, 3})
    void sinCos2dMatchesReference(int threads) {
        int[][] grids = {{1, 1}, {3, 5}, {5, 3}, {16, 16}, {7, 40}};
        for (int[] g : grids) {
            for (int dim : new int[] {4, 8, 36, 256}) {
                Tensor expected = Tensor.zeros(DType.F32, g[0] * g[1], dim);
                REF.sinCos2d(g[0], g[1], expected);
                Tensor out = Tensor.zeros(DType.F32, g[0] * g[1], dim);
                vector(threads).sinCos2d(g[0], g[1], out);
                assertClose(expected, out, 0, 1e-7, "sinCos2d " + g[0] + "×" + g[1] + " dim=" + dim);
            }
        }
    }

    @Test
    void badShapesNameTheOp() {
        for (TableOps impl : new TableOps[] {vector(1), REF}) {
            assertShapeError(
                    "timestepEmbedding",
                    () -> impl.timestepEmbedding(ramp(4, 1), 10000, Tensor.zeros(DType.F32, 3, 8)),
                    "[3, 8]");
            assertShapeError(
                    "timestepEmbedding",
                    () -> impl.timestepEmbedding(Tensor.zeros(DType.F32, 2, 2), 10000, Tensor.zeros(DType.F32, 2, 8)),
                    "t",
                    "[2, 2]");
            assertShapeError(
                    "sinCos1d", () -> impl.sinCos1d(ramp(4, 1), Tensor.zeros(DType.F32, 4, 7)), "even", "[4, 7]");
            assertShapeError("sinCos2d", () -> impl.sinCos2d(2, 3, Tensor.zeros(DType.F32, 6, 6)), "4", "[6, 6]");
            assertShapeError(
                    "sinCos2d", () -> impl.sinCos2d(2, 3, Tensor.zeros(DType.F32, 5, 8)), "[6, dim]", "[5, 8]");
        }
    }
}
