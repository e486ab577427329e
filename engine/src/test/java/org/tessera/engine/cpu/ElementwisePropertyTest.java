package org.tessera.engine.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.tessera.engine.cpu.KernelAssert.assertClose;
import static org.tessera.engine.cpu.KernelAssert.assertShapeError;
import static org.tessera.engine.cpu.KernelAssert.randn;

import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.tessera.engine.backend.ElementwiseOps;
import org.tessera.engine.parallel.WorkerPool;
import org.tessera.engine.reference.ScalarElementwise;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Shapes;
import org.tessera.engine.tensor.Tensor;

/** The SIMD pointwise kernels against the scalar reference: broadcasting, views, tails, in place. */
class ElementwisePropertyTest {
    private static final WorkerPool ONE = new WorkerPool(1);
    private static final WorkerPool THREE = new WorkerPool(3);
    private static final ElementwiseOps REF = new ScalarElementwise();
    private static final double REL = 1e-5;
    private static final double ABS = 1e-6;

    @AfterAll
    static void close() {
        ONE.close();
        THREE.close();
    }

    private static ElementwiseOps vector(int threads) {
        return new VectorElementwise(threads == 1 ? ONE : THREE);
    }

    /** A named way to build the two operands of a binary op. */
    private record Operands(String name, Tensor a, Tensor b) {}

    static Stream<Operands> operands() {
        return Stream.of(
                new Operands("same [1]", randn(1, 1), randn(2, 1)),
                new Operands("same [7]", randn(1, 7), randn(2, 7)),
                new Operands("same [17]", randn(1, 17), randn(2, 17)),
                new Operands("same [33]", randn(1, 33), randn(2, 33)),
                new Operands("same [1000]", randn(1, 1000), randn(2, 1000)),
                new Operands("row [3,5,7]+[7]", randn(1, 3, 5, 7), randn(2, 7)),
                new Operands("row [3,5,33]+[1,33]", randn(1, 3, 5, 33), randn(2, 1, 33)),
                new Operands("row first [17]+[4,17]", randn(1, 17), randn(2, 4, 17)),
                new Operands("middle [3,5,33]+[3,1,33]", randn(1, 3, 5, 33), randn(2, 3, 1, 33)),
                new Operands("column [3,5,33]+[3,5,1]", randn(1, 3, 5, 33), randn(2, 3, 5, 1)),
                new Operands("scalar [2,17]+[1]", randn(1, 2, 17), randn(2, 1)),
                new Operands("scalar first [1]+[2,17]", randn(1, 1), randn(2, 2, 17)),
                new Operands("outer [4,1]+[1,35]", randn(1, 4, 1), randn(2, 1, 35)),
                new Operands("transposed a", randn(1, 33, 9).t(), randn(2, 9, 33)),
                new Operands(
                        "transposed both", randn(1, 17, 5).t(), randn(2, 17, 5).t()),
                new Operands("sliced a", randn(1, 9, 40).slice(1, 3, 36), randn(2, 9, 33)),
                new Operands("expanded a", randn(1, 1, 33).expand(9, 33), randn(2, 9, 33)),
                new Operands(
                        "expanded both",
                        randn(1, 1, 19).expand(3, 19),
                        randn(2, 3, 1).expand(3, 19)),
                new Operands("parallel [300,129]+[129]", randn(1, 300, 129), randn(2, 129)),
                new Operands("parallel flat [40000]", randn(1, 40000), randn(2, 40000)),
                new Operands("parallel transposed", randn(1, 190, 190).t(), randn(2, 190, 190)),
                new Operands("parallel rows [2,200,129]+[2,1,129]", randn(1, 2, 200, 129), randn(2, 2, 1, 129)),
                new Operands("parallel column [2,200,129]+[2,200,1]", randn(1, 2, 200, 129), randn(2, 2, 200, 1)),
                new Operands(
                        "sliced rows [2,9,33] of [2,9,40]", randn(1, 2, 9, 40).slice(2, 7, 40), randn(2, 2, 1, 33)),
                new Operands("rank 0 scalar", randn(1, 3, 17), Tensor.of(new float[] {1.5f})),
                new Operands("both rank 0", Tensor.of(new float[] {-2f}), Tensor.of(new float[] {1.5f})),
                new Operands("empty [0,5]+[5]", Tensor.zeros(DType.F32, 0, 5), randn(2, 5)));
    }

    static Stream<Arguments> binaryCases() {
        return operands()
                .flatMap(o -> Stream.of("add", "sub", "mul", "div")
                        .flatMap(op -> Stream.of(
                                Arguments.of(o.name(), op, o.a(), o.b(), 1),
                                Arguments.of(o.name(), op, o.a(), o.b(), 3))));
    }

    private static void call(ElementwiseOps ops, String op, Tensor a, Tensor b, Tensor out) {
        switch (op) {
            case "add" -> ops.add(a, b, out);
            case "sub" -> ops.sub(a, b, out);
            case "mul" -> ops.mul(a, b, out);
            default -> ops.div(a, b, out);
        }
    }

    @ParameterizedTest(name = "{1} {0} threads={4}")
    @MethodSource("binaryCases")
    void binaryMatchesReference(String name, String op, Tensor a, Tensor b, int threads) {
        int[] shape = Shapes.broadcast(op, a.shape(), b.shape());
        Tensor expected = Tensor.zeros(DType.F32, shape);
        call(REF, op, a, b, expected);
        Tensor out = Tensor.zeros(DType.F32, shape);
        call(vector(threads), op, a, b, out);
        assertClose(expected, out, REL, ABS, op + " " + name);
    }

    @ParameterizedTest(name = "threads={0}")
    @ValueSource(ints = {1, 3})
    void binaryInPlace(int threads) {
        for (int n : new int[] {1, 7, 17, 33, 1000, 40000}) {
            Tensor a = randn(3, 2, n);
            Tensor b = randn(4, n);
            Tensor expected = Tensor.zeros(DType.F32, 2, n);
            REF.mul(a, b, expected);
            vector(threads).mul(a, b, a);
            assertClose(expected, a, REL, ABS, "mul in place n=" + n);
        }
    }

    @ParameterizedTest(name = "threads={0}")
    @ValueSource(ints = {1, 3})
    void axpbyMatchesReference(int threads) {
        for (int n : new int[] {1, 7, 17, 33, 1000, 40000}) {
            Tensor x = randn(5, n);
            Tensor y = randn(6, n);
            Tensor expected = Tensor.zeros(DType.F32, n);
            REF.axpby(0.75f, x, -1.25f, y, expected);
            Tensor out = Tensor.zeros(DType.F32, n);
            vector(threads).axpby(0.75f, x, -1.25f, y, out);
            assertClose(expected, out, REL, ABS, "axpby n=" + n);
            vector(threads).axpby(0.75f, x, -1.25f, y, y);
            assertClose(expected, y, REL, ABS, "axpby in place n=" + n);
        }
        Tensor xt = randn(7, 17, 13).t();
        Tensor y = randn(8, 13, 17);
        Tensor expected = Tensor.zeros(DType.F32, 13, 17);
        REF.axpby(2f, xt, 0.5f, y, expected);
        Tensor out = Tensor.zeros(DType.F32, 13, 17);
        vector(threads).axpby(2f, xt, 0.5f, y, out);
        assertClose(expected, out, REL, ABS, "axpby transposed x");
    }

    @ParameterizedTest(name = "threads={0}")
    @ValueSource(ints = {1, 3})
    void activationsMatchReference(int threads) {
        ElementwiseOps ops = vector(threads);
        Tensor[] inputs = {
            randn(9, 4f, 1),
            randn(9, 4f, 7),
            randn(9, 4f, 17),
            randn(9, 4f, 33),
            randn(9, 4f, 1000),
            randn(9, 4f, 40000),
            randn(9, 4f, 33, 17).t(),
            randn(9, 4f, 1, 33).expand(5, 33),
            Tensor.of(new float[] {-30f, -10f, -1e-3f, 0f, 1e-3f, 10f, 30f, -0f, 5.5f}, 9),
        };
        for (Tensor x : inputs) {
            for (String act : new String[] {"gelu", "silu"}) {
                Tensor expected = Tensor.zeros(DType.F32, x.shape());
                Tensor out = Tensor.zeros(DType.F32, x.shape());
                if (act.equals("gelu")) {
                    REF.gelu(x, expected);
                    ops.gelu(x, out);
                } else {
                    REF.silu(x, expected);
                    ops.silu(x, out);
                }
                assertClose(expected, out, 2e-6, 1e-6, act + " " + x);
            }
        }
        Tensor x = randn(10, 4f, 3, 1000);
        Tensor expected = Tensor.zeros(DType.F32, 3, 1000);
        REF.silu(x, expected);
        ops.silu(x, x);
        assertClose(expected, x, 2e-6, 1e-6, "silu in place");
    }

    @ParameterizedTest(name = "threads={0}")
    @ValueSource(ints = {1, 3})
    void clampMatchesReferenceOnTailsViewsAndNaN(int threads) {
        ElementwiseOps ops = vector(threads);
        Tensor[] inputs = {
            randn(11, 3f, 1),
            randn(11, 3f, 15),
            randn(11, 3f, 17),
            randn(11, 3f, 1000),
            randn(11, 3f, 33, 17).t(),
            randn(11, 3f, 1, 33).expand(5, 33),
            Tensor.of(new float[] {Float.NaN, -5f, -1f, -0.5f, 0f, 0.5f, 1f, 5f, Float.NEGATIVE_INFINITY}, 9),
        };
        for (Tensor x : inputs) {
            Tensor expected = Tensor.zeros(DType.F32, x.shape());
            Tensor out = Tensor.zeros(DType.F32, x.shape());
            REF.clamp(x, -1f, 1f, expected);
            ops.clamp(x, -1f, 1f, out);
            assertArrayEquals(expected.toFloatArray(), out.toFloatArray(), "clamp " + x); // exact: no arithmetic
        }
        Tensor special = Tensor.of(new float[] {Float.NaN, 3f}, 2);
        ops.clamp(special, -1f, 1f, special);
        assertTrue(Float.isNaN(special.getFloat(0)), "NaN is kept, as torch.clamp keeps it");
        assertEquals(1f, special.getFloat(1));
        assertThrows(IllegalArgumentException.class, () -> ops.clamp(special, 1f, -1f, special));
    }

    /** x, shift, scale. */
    private record Modulation(String name, Tensor x, Tensor shift, Tensor scale) {}

    static Stream<Arguments> modulations() {
        return Stream.of(
                        new Modulation(
                                "DiT [2,17,33] with [2,1,33]",
                                randn(1, 2, 17, 33),
                                randn(2, 2, 1, 33),
                                randn(3, 2, 1, 33)),
                        new Modulation(
                                "DiT [3,5,7] with [3,1,7]", randn(1, 3, 5, 7), randn(2, 3, 1, 7), randn(3, 3, 1, 7)),
                        new Modulation("rows [4,1000] with [1000]", randn(1, 4, 1000), randn(2, 1000), randn(3, 1000)),
                        new Modulation("same shape [1]", randn(1, 1), randn(2, 1), randn(3, 1)),
                        new Modulation(
                                "per token [2,17,33] with [2,17,1]",
                                randn(1, 2, 17, 33),
                                randn(2, 2, 17, 1),
                                randn(3, 2, 17, 1)),
                        new Modulation(
                                "mixed [2,17,33] with [33] and [2,17,1]",
                                randn(1, 2, 17, 33),
                                randn(2, 33),
                                randn(3, 2, 17, 1)),
                        new Modulation("scalars", randn(1, 5, 19), randn(2, 1), randn(3, 1)),
                        new Modulation("transposed x", randn(1, 33, 17).t(), randn(2, 33), randn(3, 1, 33)),
                        new Modulation(
                                "expanded shift",
                                randn(1, 2, 9, 33),
                                randn(2, 1, 1, 33).expand(2, 1, 33),
                                randn(3, 2, 1, 33)),
                        new Modulation(
                                "sliced chunks of [2,1,6·33]",
                                randn(1, 2, 9, 33),
                                randn(2, 2, 1, 198).chunk(6, 2)[0],
                                randn(2, 2, 1, 198).chunk(6, 2)[1]),
                        new Modulation(
                                "parallel [2,300,65]", randn(1, 2, 300, 65), randn(2, 2, 1, 65), randn(3, 2, 1, 65)))
                .flatMap(m -> Stream.of(
                        Arguments.of(m.name(), m.x(), m.shift(), m.scale(), 1),
                        Arguments.of(m.name(), m.x(), m.shift(), m.scale(), 3)));
    }

    @ParameterizedTest(name = "{0} threads={4}")
    @MethodSource("modulations")
    void modulateMatchesReference(String name, Tensor x, Tensor shift, Tensor scale, int threads) {
        Tensor expected = Tensor.zeros(DType.F32, x.shape());
        REF.modulate(x, shift, scale, expected);
        Tensor out = Tensor.zeros(DType.F32, x.shape());
        vector(threads).modulate(x, shift, scale, out);
        assertClose(expected, out, REL, ABS, "modulate " + name);
        Tensor copy = Tensor.zeros(DType.F32, x.shape());
        copy.copyFrom(x);
        vector(threads).modulate(copy, shift, scale, copy);
        assertClose(expected, copy, REL, ABS, "modulate in place " + name);
    }

    @Test
    void badShapesNameTheOp() {
        ElementwiseOps ops = vector(1);
        for (ElementwiseOps impl : new ElementwiseOps[] {ops, REF}) {
            assertShapeError(
                    "add", () -> impl.add(randn(1, 3, 4), randn(2, 5), Tensor.zeros(DType.F32, 3, 4)), "[3, 4]", "[5]");
            assertShapeError(
                    "sub",
                    () -> impl.sub(randn(1, 3, 4), randn(2, 4), Tensor.zeros(DType.F32, 3, 5)),
                    "[3, 4]",
                    "[4]",
                    "[3, 5]");
            assertShapeError(
                    "mul",
                    () -> impl.mul(
                            randn(1, 4), randn(2, 4), Tensor.zeros(DType.F32, 8).slice(0, 0, 8, 2)),
                    "contiguous");
            assertShapeError(
                    "axpby",
                    () -> impl.axpby(1f, randn(1, 4), 1f, randn(2, 5), Tensor.zeros(DType.F32, 4)),
                    "[4]",
                    "[5]");
            assertShapeError("gelu", () -> impl.gelu(randn(1, 4), Tensor.zeros(DType.F32, 5)), "[4]", "[5]");
            assertShapeError(
                    "modulate",
                    () -> impl.modulate(randn(1, 2, 4), randn(2, 3), randn(3, 4), Tensor.zeros(DType.F32, 2, 4)),
                    "shift",
                    "[3]",
                    "[2, 4]");
            assertShapeError(
                    "modulate",
                    () -> impl.modulate(randn(1, 2, 4), randn(2, 4), randn(3, 2, 2, 4), Tensor.zeros(DType.F32, 2, 4)),
                    "scale",
                    "[2, 2, 4]");
            assertShapeError(
                    "div", () -> impl.div(Tensor.zeros(DType.I64, 2), randn(1, 2), Tensor.zeros(DType.F32, 2)), "f32");
        }
    }
}
