package org.tessera.engine.cpu;

import static org.tessera.engine.cpu.KernelAssert.assertClose;
import static org.tessera.engine.cpu.KernelAssert.assertShapeError;
import static org.tessera.engine.cpu.KernelAssert.randn;

import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.tessera.engine.backend.ConvOps;
import org.tessera.engine.parallel.WorkerPool;
import org.tessera.engine.reference.ScalarConv;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Tensor;

/** The im2col + GEMM convolutions and the upsampler against the direct-loop reference. */
class ConvPropertyTest {
    private static final WorkerPool ONE = new WorkerPool(1);
    private static final WorkerPool THREE = new WorkerPool(3);
    private static final ConvOps REF = new ScalarConv();

    @AfterAll
    static void close() {
        ONE.close();
        THREE.close();
    }

    private static ConvOps vector(int threads) {
        WorkerPool pool = threads == 1 ? ONE : THREE;
        return new VectorConv(pool, new VectorGemm(pool));
    }

    /** GEMM sums in a different order: allow a few ulps per term of the reduction. */
    private static void assertConvClose(Tensor expected, Tensor actual, int k, String what) {
        assertClose(expected, actual, 1e-5, 2e-6 * Math.sqrt(k), what);
    }

    /** An [N, C, H, W] input stored as [N, H, W, C] and permuted: a non-contiguous view. */
    private static Tensor channelsLast(long seed, int n, int c, int h, int w) {
        return randn(seed, n, h, w, c).permute(0, 3, 1, 2);
    }

    static Stream<Arguments> patchCases() {
        // x shape, weight shape
        int[][][] cases = {
            {{1, 1, 2, 2}, {1, 1, 2, 2}},
            {{2, 3, 8, 12}, {5, 3, 2, 2}},
            {{2, 4, 16, 8}, {17, 4, 4, 4}},
            {{1, 3, 4, 9}, {7, 3, 2, 3}},
            {{2, 4, 64, 72}, {8, 4, 2, 2}},
        };
        return Stream.of(cases).flatMap(c -> IntStream.of(1, 3).mapToObj(t -> Arguments.of(c[0], c[1], t)));
    }

    @ParameterizedTest(name = "x={0} w={1} threads={2}")
    @MethodSource("patchCases")
    void patchEmbed2dMatchesReference(int[] xs, int[] ws, int threads) {
        int tokens = xs[2] / ws[2] * (xs[3] / ws[3]);
        int k = ws[1] * ws[2] * ws[3];
        Tensor w = randn(2, ws);
        for (Tensor x : new Tensor[] {randn(1, xs), channelsLast(1, xs[0], xs[1], xs[2], xs[3])}) {
            for (Tensor bias : new Tensor[] {null, randn(3, ws[0])}) {
                Tensor expected = Tensor.zeros(DType.F32, xs[0], tokens, ws[0]);
                REF.patchEmbed2d(x, w, bias, expected);
                Tensor out = Tensor.zeros(DType.F32, xs[0], tokens, ws[0]);
                vector(threads).patchEmbed2d(x, w, bias, out);
                assertConvClose(expected, out, k, "patchEmbed2d bias=" + (bias != null) + " " + x);
            }
        }
        // A strided (transposed-spatial) weight view.
        Tensor wt = randn(4, ws[0], ws[1], ws[3], ws[2]).transpose(2, 3);
        Tensor x = randn(1, xs);
        Tensor expected = Tensor.zeros(DType.F32, xs[0], tokens, ws[0]);
        REF.patchEmbed2d(x, wt, null, expected);
        Tensor out = Tensor.zeros(DType.F32, xs[0], tokens, ws[0]);
        vector(threads).patchEmbed2d(x, wt, null, out);
        assertConvClose(expected, out, k, "patchEmbed2d strided weight");
    }

    @ParameterizedTest(name = "threads={0}")
    @ValueSource(ints = {1, 3})
    void patchEmbed3dMatchesReference(int threads) {
        int[][][] cases = {
            {{1, 1, 1, 2, 2}, {3, 1, 1, 2, 2}},
            {{2, 3, 4, 6, 6}, {7, 3, 2, 2, 3}},
            {{1, 4, 8, 16, 20}, {33, 4, 1, 2, 2}},
            {{2, 4, 4, 32, 32}, {16, 4, 2, 2, 2}},
        };
        for (int[][] c : cases) {
            int[] xs = c[0];
            int[] ws = c[1];
            int tokens = xs[2] / ws[2] * (xs[3] / ws[3]) * (xs[4] / ws[4]);
            int k = ws[1] * ws[2] * ws[3] * ws[4];
            Tensor x = randn(1, xs);
            Tensor w = randn(2, ws);
            for (Tensor bias : new Tensor[] {null, randn(3, ws[0])}) {
                Tensor expected = Tensor.zeros(DType.F32, xs[0], tokens, ws[0]);
                REF.patchEmbed3d(x, w, bias, expected);
                Tensor out = Tensor.zeros(DType.F32, xs[0], tokens, ws[0]);
                vector(threads).patchEmbed3d(x, w, bias, out);
                assertConvClose(expected, out, k, "patchEmbed3d x=" + java.util.Arrays.toString(xs));
            }
        }
    }

    static Stream<Arguments> convCases() {
        // x shape, weight shape, stride, padding
        Object[][] cases = {
            {new int[] {1, 1, 3, 3}, new int[] {1, 1, 3, 3}, 1, 1},
            {new int[] {2, 3, 9, 11}, new int[] {5, 3, 3, 3}, 1, 1},
            {new int[] {2, 3, 9, 11}, new int[] {5, 3, 3, 3}, 2, 1},
            {new int[] {2, 3, 9, 11}, new int[] {4, 3, 3, 3}, 2, 0},
            {new int[] {1, 2, 7, 17}, new int[] {3, 2, 5, 5}, 1, 2},
            {new int[] {1, 2, 7, 17}, new int[] {3, 2, 1, 3}, 3, 4},
            {new int[] {2, 6, 5, 7}, new int[] {33, 6, 1, 1}, 1, 0},
            {new int[] {1, 2, 2, 2}, new int[] {2, 2, 3, 3}, 1, 1},
            {new int[] {1, 8, 64, 64}, new int[] {4, 8, 3, 3}, 1, 1},
            {new int[] {2, 16, 9, 13}, new int[] {17, 16, 3, 3}, 1, 1}, // enough channels for Winograd
        };
        return Stream.of(cases).flatMap(c -> IntStream.of(1, 3).mapToObj(t -> Arguments.of(c[0], c[1], c[2], c[3], t)));
    }

    @ParameterizedTest(name = "x={0} w={1} stride={2} pad={3} threads={4}")
    @MethodSource("convCases")
    void conv2dMatchesReference(int[] xs, int[] ws, int stride, int padding, int threads) {
        int ho = (xs[2] + 2 * padding - ws[2]) / stride + 1;
        int wo = (xs[3] + 2 * padding - ws[3]) / stride + 1;
        int k = ws[1] * ws[2] * ws[3];
        Tensor w = randn(2, ws);
        for (Tensor x : new Tensor[] {randn(1, xs), channelsLast(1, xs[0], xs[1], xs[2], xs[3])}) {
            for (Tensor bias : new Tensor[] {null, randn(3, ws[0])}) {
                Tensor expected = Tensor.zeros(DType.F32, xs[0], ws[0], ho, wo);
                REF.conv2d(x, w, bias, stride, padding, expected);
                Tensor out = Tensor.zeros(DType.F32, xs[0], ws[0], ho, wo);
                vector(threads).conv2d(x, w, bias, stride, padding, out);
                assertConvClose(expected, out, k, "conv2d bias=" + (bias != null) + " " + x);
            }
        }
    }

    @ParameterizedTest(name = "threads={0}")
    @ValueSource(ints = {1, 3})
    void upsampleMatchesReference(int threads) {
        Tensor[] inputs = {
            randn(1, 1, 1, 1, 1), randn(1, 2, 3, 5, 7), channelsLast(2, 2, 3, 5, 17), randn(3, 2, 8, 64, 64)
        };
        for (Tensor x : inputs) {
            for (int f : new int[] {1, 2, 3}) {
                int[] shape = {x.size(0), x.size(1), x.size(2) * f, x.size(3) * f};
                Tensor expected = Tensor.zeros(DType.F32, shape);
                REF.upsampleNearest2d(x, f, expected);
                Tensor out = Tensor.zeros(DType.F32, shape);
                vector(threads).upsampleNearest2d(x, f, out);
                assertClose(expected, out, 0, 0, "upsample f=" + f + " " + x);
            }
        }
    }

    @Test
    void badShapesNameTheOp() {
        for (ConvOps impl : new ConvOps[] {vector(1), REF}) {
            assertShapeError(
                    "patchEmbed2d",
                    () -> impl.patchEmbed2d(
                            randn(1, 1, 3, 8, 7), randn(2, 5, 3, 2, 2), null, Tensor.zeros(DType.F32, 1, 12, 5)),
                    "[1, 3, 8, 7]",
                    "[5, 3, 2, 2]");
            assertShapeError(
                    "patchEmbed2d",
                    () -> impl.patchEmbed2d(
                            randn(1, 1, 3, 8, 8), randn(2, 5, 4, 2, 2), null, Tensor.zeros(DType.F32, 1, 16, 5)),
                    "channels",
                    "[1, 3, 8, 8]");
            assertShapeError(
                    "patchEmbed2d",
                    () -> impl.patchEmbed2d(
                            randn(1, 1, 3, 8, 8), randn(2, 5, 3, 2, 2), randn(3, 4), Tensor.zeros(DType.F32, 1, 16, 5)),
                    "bias",
                    "[4]");
            assertShapeError(
                    "patchEmbed2d",
                    () -> impl.patchEmbed2d(
                            randn(1, 1, 3, 8, 8), randn(2, 5, 3, 2, 2), null, Tensor.zeros(DType.F32, 1, 15, 5)),
                    "[1, 16, 5]",
                    "[1, 15, 5]");
            assertShapeError(
                    "patchEmbed3d",
                    () -> impl.patchEmbed3d(
                            randn(1, 1, 3, 8, 8), randn(2, 5, 3, 2, 2), null, Tensor.zeros(DType.F32, 1, 16, 5)),
                    "5-D");
            assertShapeError(
                    "conv2d",
                    () -> impl.conv2d(
                            randn(1, 1, 3, 8, 8),
                            randn(2, 5, 3, 3, 3),
                            null,
                            1,
                            1,
                            Tensor.zeros(DType.F32, 1, 5, 7, 8)),
                    "[1, 5, 8, 8]",
                    "[1, 5, 7, 8]");
            assertShapeError(
                    "conv2d",
                    () -> impl.conv2d(
                            randn(1, 1, 3, 8, 8),
                            randn(2, 5, 2, 3, 3),
                            null,
                            1,
                            1,
                            Tensor.zeros(DType.F32, 1, 5, 8, 8)),
                    "[1, 3, 8, 8]",
                    "[5, 2, 3, 3]");
            assertShapeError(
                    "conv2d",
                    () -> impl.conv2d(
                            randn(1, 1, 3, 2, 2),
                            randn(2, 5, 3, 5, 5),
                            null,
                            1,
                            0,
                            Tensor.zeros(DType.F32, 1, 5, 1, 1)),
                    "does not fit");
            assertShapeError(
                    "upsampleNearest2d",
                    () -> impl.upsampleNearest2d(randn(1, 1, 3, 4, 4), 2, Tensor.zeros(DType.F32, 1, 3, 8, 7)),
                    "[1, 3, 8, 8]",
                    "[1, 3, 8, 7]");
            assertShapeError(
                    "upsampleNearest2d",
                    () -> impl.upsampleNearest2d(randn(1, 1, 3, 4, 4), 0, Tensor.zeros(DType.F32, 1, 3, 4, 4)),
                    "factor");
        }
    }
}
