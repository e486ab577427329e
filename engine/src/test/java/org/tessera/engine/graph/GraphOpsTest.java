package org.tessera.engine.graph;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.tessera.engine.graph.GraphTesting.BACKEND;
import static org.tessera.engine.graph.GraphTesting.assertClose;
import static org.tessera.engine.graph.GraphTesting.assertSame;
import static org.tessera.engine.graph.GraphTesting.copy;
import static org.tessera.engine.graph.GraphTesting.inputs;
import static org.tessera.engine.graph.GraphTesting.randn;
import static org.tessera.engine.graph.GraphTesting.runY;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.tessera.engine.backend.Activation;
import org.tessera.engine.backend.AttentionMask;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.ShapeMismatchException;
import org.tessera.engine.tensor.Tensor;

/** Each op through builder, planner and execution against direct backend calls or hand-computed values. */
class GraphOpsTest {

    private static Tensor zeros(int... shape) {
        return Tensor.zeros(DType.F32, shape);
    }

    @ParameterizedTest
    @EnumSource(Activation.class)
    void linearWithConstantWeightMatchesBackend(Activation act) {
        Tensor x = randn(1, 2, 5, 17);
        Tensor w = randn(2, 33, 17);
        Tensor bias = randn(3, 33);
        GraphBuilder b = new GraphBuilder();
        Value xv = b.input("x", DType.F32, 2, 5, 17);
        b.output("y", b.linear(xv, b.constant("w", w), b.constant("b", bias), act));
        Tensor expected = zeros(2, 5, 33);
        BACKEND.gemm().linear(x, w, bias, act, expected);
        assertClose(expected, runY(b, inputs("x", x)), 1e-4, 1e-4, "linear " + act);
    }

    @Test
    void linearWithRuntimeWeightAndNoBias() {
        Tensor x = randn(1, 7, 9);
        Tensor w = randn(2, 4, 9);
        GraphBuilder b = new GraphBuilder();
        b.output("y", b.linear(b.input("x", DType.F32, 7, 9), b.input("w", DType.F32, 4, 9), null, Activation.NONE));
        Tensor expected = zeros(7, 4);
        BACKEND.gemm().linear(x, w, null, Activation.NONE, expected);
        assertClose(expected, runY(b, inputs("x", x, "w", w)), 1e-4, 1e-4, "linear");
    }

    @Test
    void linearOfStridedInputGetsContiguousCopy() {
        Tensor x = randn(1, 9, 6);
        Tensor w = randn(2, 5, 9);
        GraphBuilder b = new GraphBuilder();
        Value xt = b.permute(b.input("x", DType.F32, 9, 6), 1, 0); // [6, 9], not row-major
        b.output("y", b.linear(xt, b.constant("w", w), null, Activation.NONE));
        CompiledGraph cg = Planner.compile(b.build(), BACKEND);
        assertTrue(
                cg.optimizedGraph().describe().contains("contiguous"),
                cg.optimizedGraph().describe());
        Tensor expected = zeros(6, 5);
        BACKEND.gemm().linear(x.t().contiguous(), w, null, Activation.NONE, expected);
        try (Execution ex = cg.newExecution()) {
            assertClose(expected, ex.run(inputs("x", x)).get("y"), 1e-4, 1e-4, "linear of permute");
        }
    }

    @Test
    void meanRemovesItsDimAndAveragesOverIt() {
        Tensor x = randn(3, 2, 5, 3); // odd sizes: no dim is a vector width
        float[] v = x.toFloatArray();
        for (int dim = 0; dim < 3; dim++) {
            GraphBuilder b = new GraphBuilder();
            b.output("y", b.mean(b.input("x", DType.F32, 2, 5, 3), dim - 3)); // negative dims count from the end
            int[] shape = {2, 5, 3};
            int[] out = new int[2];
            for (int i = 0, j = 0; i < 3; i++) {
                if (i != dim) {
                    out[j++] = shape[i];
                }
            }
            float[] expected = new float[out[0] * out[1]];
            for (int i = 0; i < 2; i++) {
                for (int j = 0; j < 5; j++) {
                    for (int k = 0; k < 3; k++) {
                        int o = dim == 0 ? j * 3 + k : dim == 1 ? i * 3 + k : i * 5 + j;
                        expected[o] += v[(i * 5 + j) * 3 + k] / shape[dim];
                    }
                }
            }
            assertClose(Tensor.of(expected, out), runY(b, inputs("x", x)), 1e-5, 1e-6, "mean over dim " + dim);
        }
    }

    @Test
    void matmul2dAnd3d() {
        Tensor a = randn(1, 7, 5);
        Tensor bm = randn(2, 5, 3);
        GraphBuilder b = new GraphBuilder();
        b.output("y", b.matmul(b.input("a", DType.F32, 7, 5), b.input("b", DType.F32, 5, 3)));
        Tensor expected = zeros(7, 3);
        BACKEND.gemm().matmul(a, bm, expected);
        assertClose(expected, runY(b, inputs("a", a, "b", bm)), 1e-4, 1e-4, "matmul");

        Tensor a3 = randn(3, 2, 7, 5);
        Tensor b3 = randn(4, 2, 5, 3);
        GraphBuilder g = new GraphBuilder();
        g.output("y", g.matmul(g.input("a", DType.F32, 2, 7, 5), g.input("b", DType.F32, 2, 5, 3)));
        Tensor expected3 = zeros(2, 7, 3);
        BACKEND.gemm().batchedGemm(a3, b3, expected3, 1f, 0f);
        assertClose(expected3, runY(g, inputs("a", a3, "b", b3)), 1e-4, 1e-4, "batched matmul");
    }

    @Test
    void attentionFullAndSegmented() {
        Tensor q = randn(1, 2, 3, 6, 8);
        Tensor k = randn(2, 2, 3, 6, 8);
        Tensor v = randn(3, 2, 3, 6, 8);
        Tensor ids =
                Tensor.ofLongs(java.lang.foreign.Arena.ofAuto(), new long[] {0, 0, 1, 1, 1, 2, 0, 0, 0, 0, 1, 1}, 2, 6);
        float scale = 0.3f;
        GraphBuilder b = new GraphBuilder();
        Value qv = b.input("q", DType.F32, 2, 3, 6, 8);
        Value kv = b.input("k", DType.F32, 2, 3, 6, 8);
        Value vv = b.input("v", DType.F32, 2, 3, 6, 8);
        b.output("full", b.attention(qv, kv, vv, scale));
        b.output("seg", b.attention(qv, kv, vv, scale, b.input("ids", DType.I64, 2, 6)));
        var out = GraphTesting.run(b.build(), Planner.Options.DEFAULT, inputs("q", q, "k", k, "v", v, "ids", ids));
        Tensor full = zeros(2, 3, 6, 8);
        BACKEND.attention().attention(q, k, v, full, AttentionMask.NONE, scale);
        Tensor seg = zeros(2, 3, 6, 8);
        BACKEND.attention().attention(q, k, v, seg, AttentionMask.Segments.of(ids), scale);
        assertClose(full, out.get("full"), 1e-5, 1e-5, "attention");
        assertClose(seg, out.get("seg"), 1e-5, 1e-5, "segmented attention");
    }

    @Test
    void attentionWithAnAdditiveMask() {
        Tensor q = randn(1, 2, 3, 6, 8);
        Tensor k = randn(2, 2, 3, 5, 8);
        Tensor v = randn(3, 2, 3, 5, 8);
        // A causal-style [Nq, Nk] mask broadcast over batch and heads; row 0 sees only key 0.
        float[] m = new float[6 * 5];
        for (int i = 0; i < 6; i++) {
            for (int j = 0; j < 5; j++) {
                m[i * 5 + j] = j > i ? Float.NEGATIVE_INFINITY : 0.1f * j;
            }
        }
        Tensor mask = Tensor.of(m, 6, 5);
        GraphBuilder b = new GraphBuilder();
        Value qv = b.input("q", DType.F32, 2, 3, 6, 8);
        Value kv = b.input("k", DType.F32, 2, 3, 5, 8);
        Value vv = b.input("v", DType.F32, 2, 3, 5, 8);
        b.output("y", b.attention(qv, kv, vv, 0.3f, null, b.input("mask", DType.F32, 6, 5)));
        Tensor expected = zeros(2, 3, 6, 8);
        BACKEND.attention().attention(q, k, v, expected, new AttentionMask.Additive(mask), 0.3f);
        assertClose(expected, runY(b, inputs("q", q, "k", k, "v", v, "mask", mask)), 1e-5, 1e-5, "masked attention");
        GraphBuilder bad = new GraphBuilder();
        Value q2 = bad.input("q", DType.F32, 2, 3, 6, 8);
        Value k2 = bad.input("k", DType.F32, 2, 3, 5, 8);
        ShapeMismatchException e = assertThrows(
                ShapeMismatchException.class,
                () -> bad.attention(q2, k2, k2, 0.3f, null, bad.input("mask", DType.F32, 5, 6)));
        assertTrue(
                e.getMessage().contains("mask f32[5, 6] must be f32 and broadcast to [B, H, Nq, Nk] = [2, 3, 6, 5]"),
                e.getMessage());
    }

    @Test
    void normsAndSoftmax() {
        Tensor x = randn(1, 3, 4, 10);
        Tensor w = randn(2, 10);
        Tensor bias = randn(3, 10);
        Tensor gw = randn(4, 4);
        Tensor gb = randn(5, 4);
        GraphBuilder b = new GraphBuilder();
        Value xv = b.input("x", DType.F32, 3, 4, 10);
        b.output("ln", b.layerNorm(xv, b.constant("w", w), b.constant("b", bias), 1e-5f));
        b.output("ln0", b.layerNorm(xv, null, null, 1e-6f));
        b.output("gn", b.groupNorm(xv, 2, b.constant("gw", gw), b.constant("gb", gb), 1e-5f));
        b.output("sm", b.softmax(xv));
        var out = GraphTesting.run(b.build(), Planner.Options.DEFAULT, inputs("x", x));
        Tensor ln = zeros(3, 4, 10);
        BACKEND.norms().layerNorm(x, w, bias, 1e-5f, ln);
        Tensor ln0 = zeros(3, 4, 10);
        BACKEND.norms().layerNorm(x, null, null, 1e-6f, ln0);
        Tensor gn = zeros(3, 4, 10);
        BACKEND.norms().groupNorm(x, 2, gw, gb, 1e-5f, gn);
        Tensor sm = zeros(3, 4, 10);
        BACKEND.norms().softmax(x, sm);
        assertSame(ln, out.get("ln"), "layerNorm");
        assertSame(ln0, out.get("ln0"), "layerNorm without affine");
        assertSame(gn, out.get("gn"), "groupNorm");
        assertSame(sm, out.get("sm"), "softmax");
    }

    @Test
    void broadcastingArithmeticAndScalars() {
        Tensor a = Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
        Tensor c = Tensor.of(new float[] {10, 20, 30}, 3);
        GraphBuilder b = new GraphBuilder();
        Value av = b.input("a", DType.F32, 2, 3);
        Value cv = b.input("c", DType.F32, 3);
        b.output("add", b.add(av, cv));
        b.output("sub", b.sub(cv, av));
        b.output("mul", b.mul(av, cv));
        b.output("div", b.div(cv, av));
        b.output("adds", b.addScalar(av, 0.5f));
        b.output("muls", b.mulScalar(av, -2f));
        var out = GraphTesting.run(b.build(), Planner.Options.DEFAULT, inputs("a", a, "c", c));
        assertSame(Tensor.of(new float[] {11, 22, 33, 14, 25, 36}, 2, 3), out.get("add"), "add");
        assertSame(Tensor.of(new float[] {9, 18, 27, 6, 15, 24}, 2, 3), out.get("sub"), "sub");
        assertSame(Tensor.of(new float[] {10, 40, 90, 40, 100, 180}, 2, 3), out.get("mul"), "mul");
        assertClose(Tensor.of(new float[] {10, 10, 10, 2.5f, 4, 5}, 2, 3), out.get("div"), "div");
        assertSame(Tensor.of(new float[] {1.5f, 2.5f, 3.5f, 4.5f, 5.5f, 6.5f}, 2, 3), out.get("adds"), "addScalar");
        assertSame(Tensor.of(new float[] {-2, -4, -6, -8, -10, -12}, 2, 3), out.get("muls"), "mulScalar");
    }

    @Test
    void activationsAndModulate() {
        Tensor x = randn(1, 2, 5, 7);
        Tensor shift = randn(2, 2, 1, 7);
        Tensor scale = randn(3, 2, 1, 7);
        GraphBuilder b = new GraphBuilder();
        Value xv = b.input("x", DType.F32, 2, 5, 7);
        b.output("gelu", b.gelu(xv));
        b.output("silu", b.silu(xv));
        b.output("mod", b.modulate(xv, b.input("shift", DType.F32, 2, 1, 7), b.input("scale", DType.F32, 2, 1, 7)));
        var out = GraphTesting.run(b.build(), Planner.Options.DEFAULT, inputs("x", x, "shift", shift, "scale", scale));
        float[] xs = x.toFloatArray();
        float[] g = out.get("gelu").toFloatArray();
        float[] s = out.get("silu").toFloatArray();
        for (int i = 0; i < xs.length; i++) {
            assertEquals(Activation.GELU_TANH.apply(xs[i]), g[i], 1e-5, "gelu " + i);
            assertEquals(Activation.SILU.apply(xs[i]), s[i], 1e-5, "silu " + i);
        }
        Tensor mod = out.get("mod");
        for (int bi = 0; bi < 2; bi++) {
            for (int t = 0; t < 5; t++) {
                for (int d = 0; d < 7; d++) {
                    double e = x.getFloat(bi, t, d) * (1.0 + scale.getFloat(bi, 0, d)) + shift.getFloat(bi, 0, d);
                    assertEquals(e, mod.getFloat(bi, t, d), 1e-5, "modulate");
                }
            }
        }
    }

    @Test
    void tablesMatchBackendAndSinCosIsFolded() {
        Tensor t = Tensor.ofLongs(java.lang.foreign.Arena.ofAuto(), new long[] {0, 3, 999}, 3);
        GraphBuilder b = new GraphBuilder();
        b.output("temb", b.timestepEmbedding(b.input("t", DType.I64, 3), 16, 10000));
        b.output("pos", b.sinCos2d(4, 2, 8));
        CompiledGraph cg = Planner.compile(b.build(), BACKEND);
        assertTrue(
                cg.passLog().stream().anyMatch(l -> l.startsWith("constant folding") && l.contains("sinCos2d")),
                cg.passLog().toString());
        Tensor temb = zeros(3, 16);
        BACKEND.tables().timestepEmbedding(t, 10000, temb);
        Tensor pos = zeros(8, 8);
        BACKEND.tables().sinCos2d(4, 2, pos);
        try (Execution ex = cg.newExecution()) {
            var out = ex.run(inputs("t", t));
            assertSame(temb, out.get("temb"), "timestepEmbedding");
            assertSame(pos, out.get("pos"), "sinCos2d");
        }
    }

    @Test
    void embeddingGathersRowsAndNamesTheNodeWhenAnIdIsOutOfRange() {
        Tensor table = Tensor.of(new float[] {0, 1, 10, 11, 20, 21}, 3, 2);
        GraphBuilder b = new GraphBuilder();
        b.at("dit.tess:40:9");
        b.output("y", b.embedding(b.constant("table", table), b.input("ids", DType.I64, 2, 2)));
        CompiledGraph cg = Planner.compile(b.build(), BACKEND);
        try (Execution ex = cg.newExecution()) {
            Tensor ids = Tensor.ofLongs(java.lang.foreign.Arena.ofAuto(), new long[] {2, 0, 1, 1}, 2, 2);
            assertSame(
                    Tensor.of(new float[] {20, 21, 0, 1, 10, 11, 10, 11}, 2, 2, 2),
                    ex.run(inputs("ids", ids)).get("y"),
                    "embedding");
            Tensor bad = Tensor.ofLongs(java.lang.foreign.Arena.ofAuto(), new long[] {0, 3, 1, 1}, 2, 2);
            GraphExecutionException e = assertThrows(GraphExecutionException.class, () -> ex.run(inputs("ids", bad)));
            assertTrue(e.getMessage().startsWith("dit.tess:40:9: embedding"), e.getMessage());
            assertTrue(e.getMessage().contains("id 3"), e.getMessage());
        }
    }

    @Test
    void convolutionsMatchBackend() {
        Tensor x = randn(1, 2, 3, 8, 8);
        Tensor pw = randn(2, 5, 3, 2, 2);
        Tensor pb = randn(3, 5);
        Tensor x3 = randn(4, 1, 3, 4, 4, 4);
        Tensor pw3 = randn(5, 6, 3, 2, 2, 2);
        Tensor cw = randn(6, 4, 3, 3, 3);
        Tensor cb = randn(7, 4);
        GraphBuilder b = new GraphBuilder();
        Value xv = b.input("x", DType.F32, 2, 3, 8, 8);
        b.output("pe", b.patchEmbed2d(xv, b.constant("pw", pw), b.constant("pb", pb)));
        b.output("pe3", b.patchEmbed3d(b.input("x3", DType.F32, 1, 3, 4, 4, 4), b.constant("pw3", pw3), null));
        b.output("conv", b.conv2d(xv, b.constant("cw", cw), b.constant("cb", cb), 2, 1));
        b.output("up", b.upsampleNearest2d(xv, 2));
        var out = GraphTesting.run(b.build(), Planner.Options.DEFAULT, inputs("x", x, "x3", x3));
        Tensor pe = zeros(2, 16, 5);
        BACKEND.conv().patchEmbed2d(x, pw, pb, pe);
        Tensor pe3 = zeros(1, 8, 6);
        BACKEND.conv().patchEmbed3d(x3, pw3, null, pe3);
        Tensor conv = zeros(2, 4, 4, 4);
        BACKEND.conv().conv2d(x, cw, cb, 2, 1, conv);
        Tensor up = zeros(2, 3, 16, 16);
        BACKEND.conv().upsampleNearest2d(x, 2, up);
        assertClose(pe, out.get("pe"), 1e-5, 1e-5, "patchEmbed2d");
        assertClose(pe3, out.get("pe3"), 1e-5, 1e-5, "patchEmbed3d");
        assertClose(conv, out.get("conv"), 1e-5, 1e-5, "conv2d");
        assertSame(up, out.get("up"), "upsampleNearest2d");
    }

    @Test
    void shapeOpsMatchTensorViews() {
        Tensor x = randn(1, 2, 3, 4);
        GraphBuilder b = new GraphBuilder();
        Value xv = b.input("x", DType.F32, 2, 3, 4);
        b.output("reshape", b.reshape(xv, 6, -1));
        Value p = b.permute(xv, 2, 0, 1);
        b.output("permute", p);
        b.output("reshapeOfPermute", b.reshape(p, 4, 6)); // needs a copy
        b.output("slice", b.slice(xv, 1, 1, 3));
        List<Value> chunks = b.chunk(xv, 2, -1);
        b.output("chunk1", chunks.get(1));
        b.output("concat", b.concat(List.of(chunks.get(1), chunks.get(0), xv), 2));
        b.output("unsqueeze", b.unsqueeze(xv, 1));
        b.output("contiguous", b.contiguous(p));
        b.output("expand", b.expand(b.slice(xv, 0, 0, 1), 3, -1, -1, 4));
        b.output("cast", b.cast(xv, DType.F64));
        var out = GraphTesting.run(b.build(), Planner.Options.DEFAULT, inputs("x", x));
        assertSame(x.reshape(6, 4), out.get("reshape"), "reshape");
        assertSame(x.permute(2, 0, 1), out.get("permute"), "permute");
        assertSame(x.permute(2, 0, 1).contiguous().reshape(4, 6), out.get("reshapeOfPermute"), "reshape of permute");
        assertSame(x.slice(1, 1, 3), out.get("slice"), "slice");
        assertSame(x.slice(2, 2, 4), out.get("chunk1"), "chunk");
        Tensor cat = zeros(2, 3, 8);
        cat.slice(2, 0, 2).copyFrom(x.slice(2, 2, 4));
        cat.slice(2, 2, 4).copyFrom(x.slice(2, 0, 2));
        cat.slice(2, 4, 8).copyFrom(x);
        assertSame(cat, out.get("concat"), "concat");
        assertSame(x.unsqueeze(1), out.get("unsqueeze"), "unsqueeze");
        assertSame(x.permute(2, 0, 1), out.get("contiguous"), "contiguous");
        assertTrue(out.get("contiguous").isContiguous());
        assertSame(x.slice(0, 0, 1).expand(3, 1, 3, 4).contiguous(), out.get("expand"), "expand");
        assertEquals(DType.F64, out.get("cast").dtype());
        assertSame(x, out.get("cast"), "cast");
    }

    @Test
    void outputCanBeAnInputOrAConstant() {
        Tensor x = randn(1, 3);
        Tensor c = randn(2, 3);
        GraphBuilder b = new GraphBuilder();
        b.output("x", b.input("x", DType.F32, 3));
        b.output("c", b.constant("c", c));
        var out = GraphTesting.run(b.build(), Planner.Options.DEFAULT, inputs("x", x));
        assertSame(x, out.get("x"), "input as output");
        assertSame(c, out.get("c"), "constant as output");
    }

    @Test
    void scalarBackendRunsTheSamePlan() {
        Tensor x = randn(1, 4, 8);
        Tensor w = randn(2, 8, 8);
        GraphBuilder b = new GraphBuilder();
        Value h = b.layerNorm(b.input("x", DType.F32, 4, 8), null, null, 1e-6f);
        b.output("y", b.softmax(b.gelu(b.linear(h, b.constant("w", w), null, Activation.NONE))));
        Graph g = b.build();
        var pool = GraphTesting.POOL;
        CompiledGraph scalar = Planner.compile(g, org.tessera.engine.reference.ScalarBackend.create(pool));
        try (Execution ex = scalar.newExecution()) {
            Tensor ref = copy(ex.run(inputs("x", x)).get("y"));
            assertClose(
                    ref,
                    GraphTesting.run(g, Planner.Options.DEFAULT, inputs("x", x)).get("y"),
                    1e-4,
                    1e-5,
                    "vector vs scalar");
        }
    }
}
