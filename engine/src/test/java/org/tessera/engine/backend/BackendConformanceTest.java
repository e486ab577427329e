package org.tessera.engine.backend;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.tessera.engine.cpu.VectorKernels;
import org.tessera.engine.parallel.WorkerPool;
import org.tessera.engine.random.RandomStream;
import org.tessera.engine.reference.ScalarBackend;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Tensor;

/**
 * One place that proves every backend computes what the reference does (the Jlama way): one
 * representative call of every op of every family, on the same random inputs, compared with
 * the scalar reference backend within float tolerance. A new backend is added to
 * {@link #backends()}; a new op gets one line in {@link #ops()}.
 */
class BackendConformanceTest {
    private static final WorkerPool POOL = new WorkerPool(3);
    private static final Backend REFERENCE = ScalarBackend.create(POOL);
    private static final double REL = 1e-4;
    private static final double ABS = 1e-5;

    @AfterAll
    static void close() {
        POOL.close();
    }

    /** Every backend under test. */
    private static List<Backend> backends() {
        return List.of(VectorKernels.backend(POOL));
    }

    /** One call of an op: builds its output, runs the op on {@code backend}, returns the output. */
    private record OpCase(String name, Function<Backend, Tensor> call) {}

    private static long seed = 1;

    private static Tensor randn(int... shape) {
        Tensor t = Tensor.zeros(DType.F32, shape);
        new RandomStream(seed++, 0).fillNormal(t, POOL);
        return t;
    }

    private static Tensor out(int... shape) {
        return Tensor.zeros(DType.F32, shape);
    }

    private static List<OpCase> ops() {
        List<OpCase> ops = new ArrayList<>();

        // ---------------------------------------------------------------- gemm
        Tensor a = randn(37, 45);
        Tensor bT = randn(29, 45); // used transposed: B [45, 29]
        Tensor c0 = randn(37, 29);
        Tensor gemmBias = randn(29);
        ops.add(new OpCase("gemm (Bᵀ view, alpha, beta, bias + gelu)", be -> {
            Tensor c = out(37, 29);
            c.copyFrom(c0);
            be.gemm().gemm(a, bT.t(), c, 0.5f, 2f, Epilogue.of(gemmBias, Activation.GELU_TANH));
            return c;
        }));
        ops.add(new OpCase("gemm packed", be -> {
            Tensor c = out(37, 29);
            be.gemm().gemm(a, be.gemm().pack(bT.t(), Arena.ofAuto()), c, 1f, 0f, Epilogue.bias(gemmBias));
            return c;
        }));
        Tensor ba = randn(3, 9, 20);
        Tensor bb = randn(1, 20, 11).expand(3, 20, 11);
        ops.add(new OpCase("batchedGemm (shared B)", be -> {
            Tensor c = out(3, 9, 11);
            be.gemm().batchedGemm(ba, bb, c, 1f, 0f);
            return c;
        }));
        Tensor lx = randn(2, 5, 33);
        Tensor lw = randn(17, 33);
        Tensor lb = randn(17);
        ops.add(new OpCase("linear + silu", be -> {
            Tensor o = out(2, 5, 17);
            be.gemm().linear(lx, lw, lb, Activation.SILU, o);
            return o;
        }));
        ops.add(new OpCase("linear packed", be -> {
            Tensor o = out(2, 5, 17);
            be.gemm().linear(lx, be.gemm().pack(lw.t(), Arena.ofAuto()), lb, Activation.NONE, o);
            return o;
        }));

        // ---------------------------------------------------------------- attention
        Tensor qkv = randn(2, 19, 3, 3, 16); // a fused projection, sliced into strided q, k, v
        Tensor q = qkv.select(2, 0).permute(0, 2, 1, 3);
        Tensor k = qkv.select(2, 1).permute(0, 2, 1, 3);
        Tensor v = qkv.select(2, 2).permute(0, 2, 1, 3);
        ops.add(new OpCase("attention", be -> {
            Tensor o = out(2, 3, 19, 16);
            be.attention().attention(q, k, v, o, AttentionMask.NONE);
            return o;
        }));
        int[][] ids = new int[2][19];
        for (int i = 0; i < 19; i++) {
            ids[0][i] = i < 7 ? 0 : 1;
            ids[1][i] = i < 12 ? 0 : i < 15 ? 1 : 2;
        }
        ops.add(new OpCase("attention with segment mask", be -> {
            Tensor o = out(2, 3, 19, 16);
            be.attention().attention(q, k, v, o, new AttentionMask.Segments(ids, ids), 0.3f);
            return o;
        }));
        Tensor additive = randn(1, 19, 19);
        ops.add(new OpCase("attention with additive mask", be -> {
            Tensor o = out(2, 3, 19, 16);
            be.attention().attention(q, k, v, o, new AttentionMask.Additive(additive));
            return o;
        }));

        // ---------------------------------------------------------------- norms
        Tensor nx = randn(2, 7, 33);
        ops.add(new OpCase("softmax", be -> {
            Tensor o = out(2, 7, 33);
            be.norms().softmax(nx, o);
            return o;
        }));
        Tensor nw = randn(33);
        Tensor nb = randn(33);
        ops.add(new OpCase("layerNorm (affine)", be -> {
            Tensor o = out(2, 7, 33);
            be.norms().layerNorm(nx, nw, nb, 1e-6f, o);
            return o;
        }));
        Tensor gx = randn(2, 6, 5, 7);
        Tensor gw = randn(6);
        Tensor gb = randn(6);
        ops.add(new OpCase("groupNorm", be -> {
            Tensor o = out(2, 6, 5, 7);
            be.norms().groupNorm(gx, 3, gw, gb, 1e-5f, o);
            return o;
        }));
        Tensor gnx = randn(2, 8, 37); // 37 spatial positions: a vector tail
        Tensor gnw = randn(8);
        Tensor gnb = randn(8);
        for (Activation act : new Activation[] {Activation.SILU, Activation.GELU_TANH}) {
            // a VAE's GroupNorm + SiLU: one pass on the CPU, two (norm, then activation) in the reference
            ops.add(new OpCase("groupNorm+" + act, be -> {
                Tensor o = out(2, 8, 37);
                be.norms().groupNorm(gnx, 4, gnw, gnb, 1e-6f, act, o, be.elementwise());
                return o;
            }));
        }
        Tensor shift = randn(2, 1, 33);
        Tensor scale = randn(2, 1, 33);
        ops.add(new OpCase("layerNormModulate", be -> {
            Tensor o = out(2, 7, 33);
            be.norms().layerNormModulate(nx, shift, scale, 1e-6f, o);
            return o;
        }));

        // ---------------------------------------------------------------- elementwise
        Tensor ex = randn(2, 7, 33);
        Tensor ey = randn(2, 7, 33);
        Tensor row = randn(33);
        Tensor col = randn(2, 7, 1);
        Tensor positive = randn(2, 1, 33);
        ops.add(new OpCase("add (row broadcast)", be -> {
            Tensor o = out(2, 7, 33);
            be.elementwise().add(ex, row, o);
            return o;
        }));
        ops.add(new OpCase("sub (column broadcast)", be -> {
            Tensor o = out(2, 7, 33);
            be.elementwise().sub(ex, col, o);
            return o;
        }));
        ops.add(new OpCase("mul (transposed operand)", be -> {
            Tensor o = out(2, 33, 7);
            be.elementwise().mul(ex.transpose(1, 2), ey.transpose(1, 2), o);
            return o;
        }));
        ops.add(new OpCase("div ([B,1,D] broadcast)", be -> {
            Tensor o = out(2, 7, 33);
            be.elementwise().div(ex, positive, o);
            return o;
        }));
        ops.add(new OpCase("axpby", be -> {
            Tensor o = out(2, 7, 33);
            be.elementwise().axpby(0.75f, ex, -1.5f, ey, o);
            return o;
        }));
        ops.add(new OpCase("gelu", be -> {
            Tensor o = out(2, 7, 33);
            be.elementwise().gelu(ex, o);
            return o;
        }));
        ops.add(new OpCase("clamp", be -> {
            Tensor o = out(2, 7, 33);
            be.elementwise().clamp(ex, -0.5f, 0.75f, o);
            return o;
        }));
        ops.add(new OpCase("silu", be -> {
            Tensor o = out(2, 7, 33);
            be.elementwise().silu(ex, o);
            return o;
        }));
        ops.add(new OpCase("modulate", be -> {
            Tensor o = out(2, 7, 33);
            be.elementwise().modulate(ex, shift, scale, o);
            return o;
        }));

        // ---------------------------------------------------------------- tables
        Tensor t = Tensor.of(new float[] {0f, 1f, 17.5f, 999f}, 4);
        ops.add(new OpCase("timestepEmbedding", be -> {
            Tensor o = out(4, 257);
            be.tables().timestepEmbedding(t, 10000, o);
            return o;
        }));
        Tensor positions = Tensor.of(new float[] {0f, 1f, 2f, 5f, 30f}, 5);
        ops.add(new OpCase("sinCos1d", be -> {
            Tensor o = out(5, 64);
            be.tables().sinCos1d(positions, o);
            return o;
        }));
        ops.add(new OpCase("sinCos2d", be -> {
            Tensor o = out(12, 64);
            be.tables().sinCos2d(3, 4, o);
            return o;
        }));

        // ---------------------------------------------------------------- conv
        Tensor px = randn(2, 4, 8, 6);
        Tensor pw = randn(16, 4, 2, 2);
        Tensor pb = randn(16);
        ops.add(new OpCase("patchEmbed2d", be -> {
            Tensor o = out(2, 12, 16);
            be.conv().patchEmbed2d(px, pw, pb, o);
            return o;
        }));
        Tensor vx = randn(1, 4, 4, 6, 4);
        Tensor vw = randn(16, 4, 2, 3, 2);
        ops.add(new OpCase("patchEmbed3d", be -> {
            Tensor o = out(1, 8, 16);
            be.conv().patchEmbed3d(vx, vw, pb, o);
            return o;
        }));
        Tensor cx = randn(2, 3, 9, 8);
        Tensor cw = randn(5, 3, 3, 3);
        Tensor cb = randn(5);
        ops.add(new OpCase("conv2d (stride 2, padding 1)", be -> {
            Tensor o = out(2, 5, 5, 4);
            be.conv().conv2d(cx, cw, cb, 2, 1, o);
            return o;
        }));
        Tensor ux = randn(1, 2, 3, 5);
        ops.add(new OpCase("upsampleNearest2d", be -> {
            Tensor o = out(1, 2, 6, 10);
            be.conv().upsampleNearest2d(ux, 2, o);
            return o;
        }));
        return ops;
    }

    @TestFactory
    Stream<DynamicTest> everyOpOfEveryBackendMatchesTheReference() {
        List<OpCase> ops = ops();
        return backends().stream()
                .flatMap(be -> ops.stream()
                        .map(op -> DynamicTest.dynamicTest(
                                be.name() + " " + op.name(),
                                () -> assertClose(
                                        op.call().apply(REFERENCE),
                                        op.call().apply(be),
                                        be.name() + " " + op.name()))));
    }

    private static void assertClose(Tensor expected, Tensor actual, String what) {
        assertArrayEquals(expected.shape(), actual.shape(), what + ": shape");
        float[] e = expected.toFloatArray();
        float[] a = actual.toFloatArray();
        for (int i = 0; i < e.length; i++) {
            double tol = ABS + REL * Math.abs(e[i]);
            assertTrue(Math.abs(a[i] - e[i]) <= tol, what + ": element " + i + " is " + a[i] + ", expected " + e[i]);
        }
    }
}
