package org.tessera.engine.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.tessera.engine.cpu.KernelAssert.assertClose;
import static org.tessera.engine.cpu.KernelAssert.randn;

import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.tessera.engine.backend.Activation;
import org.tessera.engine.backend.BackwardOps;
import org.tessera.engine.parallel.WorkerPool;
import org.tessera.engine.reference.ScalarBackward;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Tensor;

/**
 * The SIMD backward kernels against the scalar reference (double) over odd shapes, vector tails,
 * every grouping of summed and kept dimensions, and one and three threads — with the same bits
 * on both thread counts.
 */
class BackwardPropertyTest {
    private static final WorkerPool ONE = new WorkerPool(1);
    private static final WorkerPool THREE = new WorkerPool(3);
    private static final BackwardOps REF = new ScalarBackward();

    @AfterAll
    static void close() {
        ONE.close();
        THREE.close();
    }

    private static BackwardOps vector(int threads) {
        return new VectorBackward(threads == 1 ? ONE : THREE);
    }

    /** Runs {@code op} on one and three threads: the results must be the same bits; returns one. */
    private static Tensor onBothThreadCounts(int[] shape, java.util.function.BiConsumer<BackwardOps, Tensor> op) {
        Tensor one = Tensor.zeros(DType.F32, shape);
        op.accept(vector(1), one);
        Tensor three = Tensor.zeros(DType.F32, shape);
        op.accept(vector(3), three);
        assertArrayEquals(one.toFloatArray(), three.toFloatArray(), "1 and 3 threads differ");
        return one;
    }

    static Stream<Arguments> elementShapes() {
        int[][] shapes = {{1}, {7}, {16}, {17}, {3, 33}, {5, 1001}, {70_003}};
        return Stream.of(shapes).flatMap(s -> Stream.of(Activation.values()).map(a -> Arguments.of(s, a)));
    }

    @ParameterizedTest(name = "{1} {0}")
    @MethodSource("elementShapes")
    void activationGradientsMatchTheReference(int[] shape, Activation activation) {
        Tensor pre = randn(1, 4f, shape);
        Tensor g = randn(2, shape);
        Tensor expected = Tensor.zeros(DType.F32, shape);
        REF.activationGrad(activation, pre, g, expected);
        Tensor out = onBothThreadCounts(shape, (ops, o) -> ops.activationGrad(activation, pre, g, o));
        assertClose(expected, out, 1e-5, 1e-6, activation + " gradient");
    }

    @Test
    void activationGradientsAtTheEndsOfTheRange() {
        float[] xs = {-1e4f, -200f, -88f, -87.5f, -30f, -9f, -1e-3f, 0f, 1e-3f, 9f, 30f, 87.5f, 88f, 200f, 1e4f, -3f, 3f
        };
        Tensor pre = Tensor.of(xs, xs.length);
        float[] ones = new float[xs.length];
        java.util.Arrays.fill(ones, 1f);
        Tensor g = Tensor.of(ones, xs.length);
        for (Activation a : Activation.values()) {
            Tensor expected = Tensor.zeros(DType.F32, xs.length);
            REF.activationGrad(a, pre, g, expected);
            Tensor out = Tensor.zeros(DType.F32, xs.length);
            vector(1).activationGrad(a, pre, g, out);
            assertClose(expected, out, 1e-5, 1e-6, a + " gradient at the ends");
        }
    }

    /** x's shape, then out's: every grouping of kept (K) and summed (S) dimensions. */
    static Stream<Arguments> sums() {
        return Stream.of(
                Arguments.of(new int[] {37, 19}, new int[] {19}), // [S, K]: a bias
                Arguments.of(new int[] {37, 19}, new int[] {37, 1}), // [K, S]: rows
                Arguments.of(new int[] {3, 37, 19}, new int[] {3, 1, 19}), // [K, S, K]: adaLN shift
                Arguments.of(new int[] {3, 37, 19}, new int[] {1}), // [S]: a loss
                Arguments.of(new int[] {3, 37, 19}, new int[] {19}), // [S, K]
                Arguments.of(new int[] {2, 3, 5, 7}, new int[] {3, 1, 1}), // [S, K, S]
                Arguments.of(new int[] {2, 3, 5, 7}, new int[] {2, 1, 5, 1}), // [K, S, K, S]
                Arguments.of(new int[] {4, 3, 5, 70}, new int[] {3, 1, 70}), // [S, K, S, K]
                Arguments.of(new int[] {5, 1, 64}, new int[] {1, 64}), // size-1 dims ignored
                Arguments.of(new int[] {4, 6}, new int[] {4, 6}), // nothing to sum
                Arguments.of(new int[] {300, 2048}, new int[] {2048}), // parallel panels
                Arguments.of(new int[] {2048, 300}, new int[] {2048, 1}), // parallel rows
                Arguments.of(new int[] {8, 129, 40}, new int[] {8, 1, 40}));
    }

    @ParameterizedTest(name = "{0} → {1}")
    @MethodSource("sums")
    void sumsMatchTheReference(int[] xShape, int[] outShape) {
        Tensor x = randn(3, xShape);
        Tensor expected = Tensor.zeros(DType.F32, outShape);
        REF.sumTo(x, expected);
        Tensor out = onBothThreadCounts(outShape, (ops, o) -> ops.sumTo(x, o));
        // float sums of n terms: a few ulps of √n times the terms' size
        double n = (double) x.numel() / expected.numel();
        assertClose(expected, out, 1e-5, 2e-6 * Math.sqrt(n) * 4, "sum_to");
    }

    static Stream<Arguments> rowShapes() {
        int[][] shapes = {{1, 1}, {3, 7}, {3, 17}, {2, 33}, {4, 1000}, {2, 3, 65}, {700, 96}};
        return Stream.of(shapes).map(Arguments::of);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("rowShapes")
    void layerNormGradientsMatchTheReference(int[] shape) {
        Tensor x = randn(4, 3f, shape);
        Tensor gy = randn(5, shape);
        Tensor expected = Tensor.zeros(DType.F32, shape);
        REF.layerNormGrad(x, gy, 1e-6f, expected);
        Tensor out = onBothThreadCounts(shape, (ops, o) -> ops.layerNormGrad(x, gy, 1e-6f, o));
        assertClose(expected, out, 1e-4, 1e-5, "layer norm gradient");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("rowShapes")
    void softmaxGradientsMatchTheReference(int[] shape) {
        Tensor logits = randn(6, 3f, shape);
        Tensor y = Tensor.zeros(DType.F32, shape);
        new org.tessera.engine.reference.ScalarNorms().softmax(logits, y);
        Tensor gy = randn(7, shape);
        Tensor expected = Tensor.zeros(DType.F32, shape);
        REF.softmaxGrad(y, gy, expected);
        Tensor out = onBothThreadCounts(shape, (ops, o) -> ops.softmaxGrad(y, gy, o));
        assertClose(expected, out, 1e-5, 1e-6, "softmax gradient");
    }

    @Test
    void wrongShapesAreNamed() {
        KernelAssert.assertShapeError(
                "activation gradient",
                () -> vector(1)
                        .activationGrad(
                                Activation.SILU,
                                Tensor.zeros(DType.F32, 3),
                                Tensor.zeros(DType.F32, 4),
                                Tensor.zeros(DType.F32, 3)),
                "one shape");
    }
}
