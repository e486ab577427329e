package org.tessera.engine.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.tessera.engine.backend.Activation;
import org.tessera.engine.backend.Epilogue;
import org.tessera.engine.backend.GemmOps;
import org.tessera.engine.parallel.WorkerPool;
import org.tessera.engine.random.RandomStream;
import org.tessera.engine.reference.ScalarGemm;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.ShapeMismatchException;
import org.tessera.engine.tensor.Tensor;

/** The SIMD GEMM against the scalar reference over odd shapes, layouts and epilogues. */
class GemmPropertyTest {
    private static final WorkerPool ONE = new WorkerPool(1);
    private static final WorkerPool THREE = new WorkerPool(3);
    private static final GemmOps REF = new ScalarGemm();

    @AfterAll
    static void close() {
        ONE.close();
        THREE.close();
    }

    static Stream<Arguments> shapes() {
        // Sizes around the register tile (12 × 32; last panels of 1–4 and 5–8 rows take the
        // four-row kernel), the K block (256), the M block (516) and the 1 MiB slice of C that
        // splits N into chunks even on one thread (600 × 530).
        int[][] mkn = {
            {1, 1, 1},
            {1, 7, 17},
            {7, 1, 33},
            {12, 16, 32},
            {13, 33, 31},
            {17, 1000, 7},
            {33, 257, 65},
            {397, 300, 70},
            {2, 1152, 40},
            {25, 13, 1000},
            {150, 40, 33},
            {800, 520, 97},
            {600, 70, 530},
        };
        Stream<Arguments> grid = Stream.of(mkn)
                .flatMap(s -> Stream.of(
                        Arguments.of(s[0], s[1], s[2], false, false, 1),
                        Arguments.of(s[0], s[1], s[2], true, true, 3)));
        // B packed per call by chunks whose strips are widened to 12 panels (38 panels, 3 threads:
        // 3 strips instead of 12), for a row-major and a transposed B.
        return Stream.concat(
                grid,
                Stream.of(Arguments.of(40, 600, 1200, false, false, 3), Arguments.of(40, 600, 1200, false, true, 3)));
    }

    private static Tensor random(long stream, int... shape) {
        Tensor t = Tensor.zeros(DType.F32, shape);
        new RandomStream(11, stream).fillNormal(t, ONE);
        return t;
    }

    private static void assertClose(Tensor expected, Tensor actual, int k, String what) {
        float[] e = expected.toFloatArray();
        float[] a = actual.toFloatArray();
        double tol = 1e-5 * Math.sqrt(k) * 4;
        for (int i = 0; i < e.length; i++) {
            double err = Math.abs(e[i] - a[i]);
            if (err > tol * (1 + Math.abs(e[i]))) {
                throw new AssertionError(what + ": element " + i + " expected " + e[i] + " got " + a[i]);
            }
        }
    }

    @ParameterizedTest(name = "M={0} K={1} N={2} transA={3} transB={4} threads={5}")
    @MethodSource("shapes")
    void matchesReference(int m, int k, int n, boolean transA, boolean transB, int threads) {
        GemmOps gemm = VectorKernels.gemm(threads == 1 ? ONE : THREE);
        Tensor a = transA ? random(1, k, m).t() : random(1, m, k);
        Tensor b = transB ? random(2, n, k).t() : random(2, k, n);
        Tensor c0 = random(3, m, n);

        // Plain product, C not read (filled with NaN to prove it).
        Tensor expected = Tensor.zeros(DType.F32, m, n);
        REF.gemm(a, b, expected, 1f, 0f, Epilogue.NONE);
        Tensor c = Tensor.zeros(DType.F32, m, n);
        c.copyFrom(Tensor.of(new float[] {Float.NaN}, 1, 1).expand(m, n));
        gemm.gemm(a, b, c, 1f, 0f, Epilogue.NONE);
        assertClose(expected, c, k, "plain");

        // alpha, beta and a fused bias + GELU epilogue, with a pre-packed B.
        Tensor bias = random(4, n);
        Tensor expected2 = copy(c0);
        REF.gemm(a, b, expected2, 0.5f, -1.5f, Epilogue.of(bias, Activation.GELU_TANH));
        Tensor c2 = copy(c0);
        gemm.gemm(a, gemm.pack(b, Arena.ofAuto()), c2, 0.5f, -1.5f, Epilogue.of(bias, Activation.GELU_TANH));
        assertClose(expected2, c2, k, "alpha/beta/gelu packed");

        // SiLU epilogue into a C that is a column slice of a wider matrix (row stride > N).
        Tensor wide = Tensor.zeros(DType.F32, m, n + 5);
        Tensor cSlice = wide.slice(1, 3, 3 + n);
        gemm.gemm(a, b, cSlice, 1f, 0f, Epilogue.of(null, Activation.SILU));
        Tensor expected3 = Tensor.zeros(DType.F32, m, n);
        REF.gemm(a, b, expected3, 1f, 0f, Epilogue.of(null, Activation.SILU));
        assertClose(expected3, cSlice, k, "silu strided C");
        assertEquals(0f, wide.getFloat(m - 1, 0));
        assertEquals(0f, wide.getFloat(m - 1, n + 4));
    }

    private static Tensor copy(Tensor t) {
        Tensor c = Tensor.zeros(DType.F32, t.shape());
        c.copyFrom(t);
        return c;
    }

    @Test
    void emptyProductsRun() {
        GemmOps gemm = VectorKernels.gemm(THREE);
        gemm.gemm(random(1, 0, 8), random(2, 8, 16), Tensor.zeros(DType.F32, 0, 16), 1f, 0f, Epilogue.NONE);
        Tensor c = random(3, 5, 0);
        gemm.gemm(random(1, 5, 8), random(2, 8, 0), c, 1f, 0f, Epilogue.NONE);
        Tensor b = random(2, 8, 16);
        gemm.gemm(random(1, 0, 8), gemm.pack(b, Arena.ofAuto()), Tensor.zeros(DType.F32, 0, 16), 1f, 0f, Epilogue.NONE);
    }

    /**
     * Shapes past the per-pass buffer bound (64 MiB of packed A, or of B packed in the call): A of
     * 4100 × 4100 runs in two passes over M; a per-call B of 13 × 1.3 M is packed by each chunk one
     * K block at a time, one M block per pass. Checked on sampled elements (a full reference
     * product would take minutes).
     */
    @Test
    void largeOperandsRunInBoundedPasses() {
        GemmOps gemm = VectorKernels.gemm(THREE);
        spotCheck(gemm, random(11, 4100, 4100), random(12, 4100, 7), true);
        spotCheck(gemm, random(13, 530, 13), random(14, 13, 1_300_000), false);
    }

    private static void spotCheck(GemmOps gemm, Tensor a, Tensor b, boolean prepacked) {
        int m = a.size(0);
        int k = a.size(1);
        int n = b.size(1);
        Tensor c = Tensor.zeros(DType.F32, m, n);
        if (prepacked) {
            gemm.gemm(a, gemm.pack(b, Arena.ofAuto()), c, 1f, 0f, Epilogue.NONE);
        } else {
            gemm.gemm(a, b, c, 1f, 0f, Epilogue.NONE);
        }
        java.util.Random rnd = new java.util.Random(7);
        for (int s = 0; s < 3000; s++) {
            // Every corner and edge row/column now and then, random elements otherwise.
            int i = s % 10 == 0 ? m - 1 : s % 10 == 1 ? 0 : rnd.nextInt(m);
            int j = s % 10 == 2 ? n - 1 : s % 10 == 3 ? 0 : rnd.nextInt(n);
            double e = 0;
            double mag = 0;
            for (int q = 0; q < k; q++) {
                double t = (double) a.getFloat(i, q) * b.getFloat(q, j);
                e += t;
                mag += Math.abs(t);
            }
            float got = c.getFloat(i, j);
            assertTrue(Math.abs(got - e) <= 1e-5 * (1 + mag), "C[" + i + ", " + j + "] = " + got + ", expected " + e);
        }
    }

    @Test
    void linearMatchesPyTorchLayout() {
        GemmOps gemm = VectorKernels.gemm(THREE);
        Tensor x = random(5, 2, 3, 40);
        Tensor w = random(6, 50, 40); // [out, in]
        Tensor bias = random(7, 50);
        Tensor out = Tensor.zeros(DType.F32, 2, 3, 50);
        gemm.linear(x, gemm.pack(w.t(), Arena.ofAuto()), bias, Activation.NONE, out);
        Tensor expected = Tensor.zeros(DType.F32, 2, 3, 50);
        REF.linear(x, w, bias, Activation.NONE, expected);
        assertClose(expected, out, 40, "linear");
    }

    @Test
    void batchedGemmWithSharedOperand() {
        GemmOps gemm = VectorKernels.gemm(ONE);
        Tensor a = random(8, 3, 9, 20);
        Tensor b = random(9, 1, 20, 35).expand(3, 20, 35); // one B for every batch entry
        Tensor c = Tensor.zeros(DType.F32, 3, 9, 35);
        gemm.batchedGemm(a, b, c, 1f, 0f);
        for (int i = 0; i < 3; i++) {
            Tensor e = Tensor.zeros(DType.F32, 9, 35);
            REF.gemm(a.select(0, i), b.select(0, i), e, 1f, 0f, Epilogue.NONE);
            assertClose(e, c.select(0, i), 20, "batch " + i);
        }
    }

    @Test
    void mismatchedShapesNameTheOpAndShapes() {
        GemmOps gemm = VectorKernels.gemm(ONE);
        ShapeMismatchException e = assertThrows(
                ShapeMismatchException.class,
                () -> gemm.matmul(random(1, 3, 4), random(2, 5, 6), Tensor.zeros(DType.F32, 3, 6)));
        assertTrue(
                e.getMessage().contains("gemm")
                        && e.getMessage().contains("[3, 4]")
                        && e.getMessage().contains("[5, 6]"),
                e.getMessage());
        assertThrows(
                ShapeMismatchException.class,
                () -> gemm.matmul(random(1, 3, 4), random(2, 4, 6), Tensor.zeros(DType.F32, 3, 7)));
        assertThrows(
                ShapeMismatchException.class,
                () -> gemm.gemm(
                        random(1, 3, 4),
                        random(2, 4, 6),
                        Tensor.zeros(DType.F32, 3, 6),
                        1f,
                        0f,
                        Epilogue.bias(random(3, 5))));
        assertThrows(
                ShapeMismatchException.class,
                () -> gemm.matmul(random(1, 3, 4), Tensor.zeros(DType.BF16, 4, 6), Tensor.zeros(DType.F32, 3, 6)));
    }
}
