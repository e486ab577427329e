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
import org.tessera.engine.backend.ElementwiseOps;
import org.tessera.engine.backend.NormOps;
import org.tessera.engine.parallel.WorkerPool;
import org.tessera.engine.reference.ScalarElementwise;
import org.tessera.engine.reference.ScalarNorms;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Tensor;

/** The SIMD normalisations against the scalar reference over odd widths, affine variants and in place. */
class NormsPropertyTest {
    private static final WorkerPool ONE = new WorkerPool(1);
    private static final WorkerPool THREE = new WorkerPool(3);
    private static final NormOps REF = new ScalarNorms();
    private static final ElementwiseOps REF_ELEMENTWISE = new ScalarElementwise();
    private static final double REL = 1e-5;
    private static final double ABS = 1e-5;

    @AfterAll
    static void close() {
        ONE.close();
        THREE.close();
    }

    private static NormOps vector(int threads) {
        return new VectorNorms(threads == 1 ? ONE : THREE);
    }

    /** Shapes [rows, d] with d around the vector width, plus one large enough to run in parallel. */
    static Stream<Arguments> rowShapes() {
        int[][] shapes = {{1, 1}, {3, 7}, {3, 17}, {2, 33}, {4, 1000}, {2, 3, 65}, {40, 1000}, {1500, 31}};
        return Stream.of(shapes).flatMap(s -> IntStream.of(1, 3).mapToObj(t -> Arguments.of(s, t)));
    }

    private static Tensor copy(Tensor x) {
        Tensor c = Tensor.zeros(DType.F32, x.shape());
        c.copyFrom(x);
        return c;
    }

    @ParameterizedTest(name = "{0} threads={1}")
    @MethodSource("rowShapes")
    void softmaxMatchesReference(int[] shape, int threads) {
        Tensor x = randn(1, 5f, shape);
        Tensor expected = Tensor.zeros(DType.F32, shape);
        REF.softmax(x, expected);
        Tensor out = Tensor.zeros(DType.F32, shape);
        vector(threads).softmax(x, out);
        assertClose(expected, out, 1e-5, 1e-7, "softmax");
        Tensor inPlace = copy(x);
        vector(threads).softmax(inPlace, inPlace);
        assertClose(expected, inPlace, 1e-5, 1e-7, "softmax in place");
    }

    @Test
    void softmaxHandlesMinusInfinity() {
        float ninf = Float.NEGATIVE_INFINITY;
        Tensor x = Tensor.of(
                new float[] {
                    ninf, 0f, ninf, 1f, 2f, ninf, 3f, ninf, 0.5f, ninf, ninf, ninf, ninf, ninf, ninf, ninf, ninf, 7f,
                    ninf
                },
                1,
                19);
        Tensor expected = Tensor.zeros(DType.F32, 1, 19);
        REF.softmax(x, expected);
        Tensor out = Tensor.zeros(DType.F32, 1, 19);
        vector(1).softmax(x, out);
        assertClose(expected, out, 1e-5, 1e-7, "softmax with -inf");
    }

    @ParameterizedTest(name = "{0} threads={1}")
    @MethodSource("rowShapes")
    void layerNormMatchesReference(int[] shape, int threads) {
        int d = shape[shape.length - 1];
        Tensor x = randn(2, 3f, shape);
        // An offset mean exercises the two-pass variance.
        Tensor shifted = Tensor.zeros(DType.F32, shape);
        REF_ELEMENTWISE.add(x, Tensor.of(new float[] {4f}, 1), shifted);
        Tensor w = randn(3, d);
        Tensor b = randn(4, d);
        Tensor[][] params = {{null, null}, {w, null}, {null, b}, {w, b}};
        for (Tensor input : new Tensor[] {x, shifted}) {
            for (Tensor[] p : params) {
                String what = "layerNorm weight=" + (p[0] != null) + " bias=" + (p[1] != null);
                Tensor expected = Tensor.zeros(DType.F32, shape);
                REF.layerNorm(input, p[0], p[1], 1e-6f, expected);
                Tensor out = Tensor.zeros(DType.F32, shape);
                vector(threads).layerNorm(input, p[0], p[1], 1e-6f, out);
                assertClose(expected, out, REL, ABS, what);
                Tensor inPlace = copy(input);
                vector(threads).layerNorm(inPlace, p[0], p[1], 1e-6f, inPlace);
                assertClose(expected, inPlace, REL, ABS, what + " in place");
            }
        }
    }

    static Stream<Arguments> groupShapes() {
        Object[][] cases = {
            {new int[] {1, 1}, 1},
            {new int[] {4, 6}, 2},
            {new int[] {2, 4, 17}, 4},
            {new int[] {2, 6, 5, 7}, 3},
            {new int[] {1, 8, 3, 11}, 1},
            {new int[] {2, 8, 33, 65}, 4},
            {new int[] {1, 4, 2, 3, 5}, 2},
        };
        return Stream.of(cases).flatMap(c -> IntStream.of(1, 3).mapToObj(t -> Arguments.of(c[0], c[1], t)));
    }

    @ParameterizedTest(name = "{0} groups={1} threads={2}")
    @MethodSource("groupShapes")
    void groupNormMatchesReference(int[] shape, int groups, int threads) {
        int c = shape[1];
        Tensor x = randn(5, 2f, shape);
        Tensor w = randn(6, c);
        Tensor b = randn(7, c);
        Tensor[][] params = {{null, null}, {w, null}, {null, b}, {w, b}};
        for (Tensor[] p : params) {
            String what = "groupNorm weight=" + (p[0] != null) + " bias=" + (p[1] != null);
            Tensor expected = Tensor.zeros(DType.F32, shape);
            REF.groupNorm(x, groups, p[0], p[1], 1e-5f, expected);
            Tensor out = Tensor.zeros(DType.F32, shape);
            vector(threads).groupNorm(x, groups, p[0], p[1], 1e-5f, out);
            assertClose(expected, out, REL, ABS, what);
            Tensor inPlace = copy(x);
            vector(threads).groupNorm(inPlace, groups, p[0], p[1], 1e-5f, inPlace);
            assertClose(expected, inPlace, REL, ABS, what + " in place");
        }
    }

    /** x, shift, scale for the fused layerNorm-modulate. */
    private record Modulation(String name, Tensor x, Tensor shift, Tensor scale) {}

    static Stream<Arguments> modulations() {
        Stream<Modulation> dit = IntStream.of(1, 7, 17, 33, 1000, 1152)
                .mapToObj(d -> new Modulation(
                        "DiT [2,5," + d + "] with [2,1," + d + "]",
                        randn(1, 3f, 2, 5, d),
                        randn(2, 2, 1, d),
                        randn(3, 2, 1, d)));
        Stream<Modulation> others = Stream.of(
                new Modulation("rows [4,33] with [33]", randn(1, 3f, 4, 33), randn(2, 33), randn(3, 33)),
                new Modulation("scalars", randn(1, 3f, 3, 19), randn(2, 1), randn(3, 1)),
                new Modulation(
                        "per token [2,9,33] with [2,9,1]",
                        randn(1, 3f, 2, 9, 33),
                        randn(2, 2, 9, 1),
                        randn(3, 2, 9, 1)),
                new Modulation(
                        "mixed [2,9,33] with [33] and [2,9,1]",
                        randn(1, 3f, 2, 9, 33),
                        randn(2, 33),
                        randn(3, 2, 9, 1)),
                new Modulation("same shape [3,17]", randn(1, 3f, 3, 17), randn(2, 3, 17), randn(3, 3, 17)),
                new Modulation(
                        "chunks of [2,1,6·33]",
                        randn(1, 3f, 2, 9, 33),
                        randn(2, 2, 1, 198).chunk(6, 2)[0],
                        randn(2, 2, 1, 198).chunk(6, 2)[1]),
                new Modulation(
                        "transposed shift",
                        randn(1, 3f, 2, 33, 17),
                        randn(2, 17, 33).t(),
                        randn(3, 2, 1, 17)),
                new Modulation(
                        "expanded scale",
                        randn(1, 3f, 2, 9, 33),
                        randn(2, 2, 1, 33),
                        randn(3, 33).expand(2, 1, 33)),
                new Modulation("parallel [2,300,65]", randn(1, 3f, 2, 300, 65), randn(2, 2, 1, 65), randn(3, 2, 1, 65)),
                new Modulation(
                        "parallel DiT [2,64,1152]",
                        randn(1, 3f, 2, 64, 1152),
                        randn(2, 2, 1, 1152),
                        randn(3, 2, 1, 1152)));
        return Stream.concat(dit, others)
                .flatMap(m -> IntStream.of(1, 3).mapToObj(t -> Arguments.of(m.name(), m.x(), m.shift(), m.scale(), t)));
    }

    @ParameterizedTest(name = "{0} threads={4}")
    @MethodSource("modulations")
    void layerNormModulateMatchesReference(String name, Tensor x, Tensor shift, Tensor scale, int threads) {
        // An offset mean exercises the two-pass variance.
        Tensor shifted = Tensor.zeros(DType.F32, x.shape());
        REF_ELEMENTWISE.add(x, Tensor.of(new float[] {4f}, 1), shifted);
        for (Tensor input : new Tensor[] {x, shifted}) {
            Tensor expected = Tensor.zeros(DType.F32, x.shape());
            REF.layerNormModulate(input, shift, scale, 1e-6f, expected);
            Tensor out = Tensor.zeros(DType.F32, x.shape());
            vector(threads).layerNormModulate(input, shift, scale, 1e-6f, out);
            assertClose(expected, out, REL, ABS, "layerNormModulate " + name);
            Tensor inPlace = copy(input);
            vector(threads).layerNormModulate(inPlace, shift, scale, 1e-6f, inPlace);
            assertClose(expected, inPlace, REL, ABS, "layerNormModulate in place " + name);
        }
    }

    @Test
    void layerNormModulateIsLayerNormThenModulate() {
        Tensor x = randn(1, 3f, 2, 7, 33);
        Tensor shift = randn(2, 2, 1, 33);
        Tensor scale = randn(3, 2, 1, 33);
        Tensor normed = Tensor.zeros(DType.F32, 2, 7, 33);
        REF.layerNorm(x, null, null, 1e-6f, normed);
        Tensor expected = Tensor.zeros(DType.F32, 2, 7, 33);
        REF_ELEMENTWISE.modulate(normed, shift, scale, expected);
        Tensor out = Tensor.zeros(DType.F32, 2, 7, 33);
        REF.layerNormModulate(x, shift, scale, 1e-6f, out);
        assertClose(expected, out, 1e-6, 1e-6, "reference fused = composed");
    }

    @Test
    void badShapesNameTheOp() {
        for (NormOps impl : new NormOps[] {vector(1), REF}) {
            assertShapeError(
                    "softmax", () -> impl.softmax(randn(1, 4, 6).t(), Tensor.zeros(DType.F32, 6, 4)), "contiguous");
            assertShapeError(
                    "softmax", () -> impl.softmax(randn(1, 4, 6), Tensor.zeros(DType.F32, 4, 5)), "[4, 6]", "[4, 5]");
            assertShapeError(
                    "layerNorm",
                    () -> impl.layerNorm(randn(1, 4, 6), randn(2, 5), null, 1e-6f, Tensor.zeros(DType.F32, 4, 6)),
                    "weight",
                    "[6]",
                    "[5]");
            assertShapeError(
                    "layerNorm",
                    () -> impl.layerNorm(randn(1, 4, 6), null, randn(2, 2, 6), 1e-6f, Tensor.zeros(DType.F32, 4, 6)),
                    "bias",
                    "[2, 6]");
            assertShapeError(
                    "groupNorm",
                    () -> impl.groupNorm(randn(1, 2, 6, 4), 4, null, null, 1e-5f, Tensor.zeros(DType.F32, 2, 6, 4)),
                    "6 channels",
                    "[2, 6, 4]",
                    "4 groups");
            assertShapeError(
                    "groupNorm",
                    () -> impl.groupNorm(
                            randn(1, 2, 6, 4), 3, randn(2, 3), null, 1e-5f, Tensor.zeros(DType.F32, 2, 6, 4)),
                    "weight",
                    "[3]");
            assertShapeError(
                    "layerNormModulate",
                    () -> impl.layerNormModulate(
                            randn(1, 2, 3, 4),
                            randn(2, 2, 1, 5),
                            randn(3, 2, 1, 4),
                            1e-6f,
                            Tensor.zeros(DType.F32, 2, 3, 4)),
                    "shift",
                    "[2, 1, 5]",
                    "[2, 3, 4]");
            assertShapeError(
                    "layerNormModulate",
                    () -> impl.layerNormModulate(
                            randn(1, 2, 3, 4),
                            randn(2, 4),
                            randn(3, 3, 2, 1, 4),
                            1e-6f,
                            Tensor.zeros(DType.F32, 2, 3, 4)),
                    "scale",
                    "[3, 2, 1, 4]");
            assertShapeError(
                    "layerNormModulate",
                    () -> impl.layerNormModulate(
                            randn(1, 2, 3, 4), randn(2, 4), randn(3, 4), 1e-6f, Tensor.zeros(DType.F32, 2, 3, 5)),
                    "[2, 3, 4]",
                    "[2, 3, 5]");
            assertShapeError(
                    "layerNormModulate",
                    () -> impl.layerNormModulate(
                            randn(1, 4, 3).t(), randn(2, 4), randn(3, 4), 1e-6f, Tensor.zeros(DType.F32, 3, 4)),
                    "contiguous");
        }
    }
}
