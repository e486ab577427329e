package org.tessera.engine.graph;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.tessera.engine.graph.GraphTesting.BACKEND;
import static org.tessera.engine.graph.GraphTesting.assertClose;
import static org.tessera.engine.graph.GraphTesting.assertSame;
import static org.tessera.engine.graph.GraphTesting.assertShapeError;
import static org.tessera.engine.graph.GraphTesting.copy;
import static org.tessera.engine.graph.GraphTesting.inputs;
import static org.tessera.engine.graph.GraphTesting.randn;

import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.tessera.engine.backend.Activation;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.ShapeMismatchException;
import org.tessera.engine.tensor.Tensor;

/** The passes, the memory plan, input and runtime checks, profiling and concurrent executions. */
class GraphPassesTest {
    private static final Planner.Options UNFUSED = new Planner.Options(true, false, true);
    private static final Planner.Options NO_REUSE = new Planner.Options(true, true, false);
    private static final Planner.Options NOTHING = new Planner.Options(false, false, false);

    private static long count(Graph g, String kind) {
        return g.nodes().stream().filter(n -> n.kind().equals(kind)).count();
    }

    /** x → linear+gelu → linear+silu; layerNorm(x) → modulate(shift, scale). */
    private static Graph fusable() {
        GraphBuilder b = new GraphBuilder();
        Value x = b.input("x", DType.F32, 2, 5, 16);
        Value c = b.input("c", DType.F32, 2, 1, 16);
        Value h = b.gelu(b.linear(x, b.constant("w1", randn(11, 32, 16)), b.constant("b1", randn(12, 32)), null));
        h = b.silu(b.linear(h, b.constant("w2", randn(13, 16, 32)), null, Activation.NONE));
        b.output("mlp", h);
        Value n = b.layerNorm(x, null, null, 1e-6f);
        b.output("mod", b.modulate(n, c, b.mulScalar(c, 0.5f)));
        return b.build();
    }

    @Test
    void fusedGraphMatchesUnfused() {
        Graph g = fusable();
        CompiledGraph fused = Planner.compile(g, BACKEND);
        assertTrue(
                fused.passLog().contains("fusion: 1 linear+gelu, 1 linear+silu, 1 layernorm+modulate"),
                fused.passLog().toString());
        Graph opt = fused.optimizedGraph();
        assertEquals(
                0,
                count(opt, "gelu") + count(opt, "silu") + count(opt, "layerNorm") + count(opt, "modulate"),
                opt.describe());
        assertEquals(1, count(opt, "layerNormModulate"));
        assertEquals(2, count(Planner.compile(g, BACKEND, UNFUSED).optimizedGraph(), "linear"));
        Map<String, Tensor> in = inputs("x", randn(1, 2, 5, 16), "c", randn(2, 2, 1, 16));
        Map<String, Tensor> a = GraphTesting.run(g, Planner.Options.DEFAULT, in);
        Map<String, Tensor> b = GraphTesting.run(g, UNFUSED, in);
        Map<String, Tensor> c = GraphTesting.run(g, NOTHING, in);
        assertClose(b.get("mlp"), a.get("mlp"), 1e-5, 1e-5, "linear+act");
        assertClose(b.get("mod"), a.get("mod"), 1e-5, 1e-5, "layernorm+modulate");
        assertClose(c.get("mlp"), a.get("mlp"), 1e-5, 1e-5, "no optimisation");
        assertClose(c.get("mod"), a.get("mod"), 1e-5, 1e-5, "no optimisation");
    }

    @Test
    void noFusionWhenTheIntermediateHasAnotherUse() {
        GraphBuilder b = new GraphBuilder();
        Value x = b.input("x", DType.F32, 3, 8);
        Value l = b.linear(x, b.constant("w", randn(1, 8, 8)), null, Activation.NONE);
        b.output("y", b.gelu(l));
        b.output("l", l);
        Value n = b.layerNorm(x, null, null, 1e-6f);
        b.output("m", b.modulate(n, n, x));
        CompiledGraph cg = Planner.compile(b.build(), BACKEND);
        assertFalse(
                cg.passLog().stream().anyMatch(s -> s.startsWith("fusion")),
                cg.passLog().toString());
        assertEquals(1, count(cg.optimizedGraph(), "gelu"));
    }

    @Test
    void deadNodesAreRemovedAndConstantsFolded() {
        Tensor t = randn(1, 4, 8);
        GraphBuilder b = new GraphBuilder();
        Value x = b.input("x", DType.F32, 4, 8);
        Value unusedInput = b.input("unused", DType.F32, 2);
        b.softmax(b.gelu(x)); // dead
        Value table = b.mulScalar(b.addScalar(b.constant("t", t), 1f), 2f); // folded
        Value pos = b.sinCos2d(2, 2, 8); // folded
        b.output("y", b.add(b.add(x, table), pos));
        CompiledGraph cg = Planner.compile(b.build(), BACKEND);
        Graph opt = cg.optimizedGraph();
        assertTrue(
                cg.passLog().contains("dead-node removal: removed 2 nodes"),
                cg.passLog().toString());
        assertTrue(
                cg.passLog().stream()
                        .anyMatch(l -> l.equals("constant folding: folded 1 addScalar, 1 mulScalar, 1 sinCos2d")),
                cg.passLog().toString());
        assertEquals(0, count(opt, "gelu") + count(opt, "softmax") + count(opt, "mulScalar") + count(opt, "sinCos2d"));
        assertTrue(opt.inputs().containsKey("unused"));
        assertNotNull(unusedInput);
        Tensor xv = randn(2, 4, 8);
        Tensor posT = Tensor.zeros(DType.F32, 4, 8);
        BACKEND.tables().sinCos2d(2, 2, posT);
        float[] e = xv.toFloatArray();
        float[] tv = t.toFloatArray();
        float[] pv = posT.toFloatArray();
        for (int i = 0; i < e.length; i++) {
            e[i] = e[i] + (tv[i] + 1f) * 2f + pv[i];
        }
        Tensor y = GraphTesting.run(b.build(), Planner.Options.DEFAULT, inputs("x", xv, "unused", randn(3, 2)))
                .get("y");
        assertClose(Tensor.of(e, 4, 8), y, 1e-6, 1e-6, "folded");
    }

    /** A chain of ten ops, each value dead after the next op. */
    private static Graph chain() {
        GraphBuilder b = new GraphBuilder();
        Value v = b.input("x", DType.F32, 32, 64);
        Value x = v;
        for (int i = 0; i < 10; i++) {
            v = switch (i % 5) {
                case 0 -> b.gelu(v);
                case 1 -> b.mulScalar(v, 1.5f);
                case 2 -> b.add(v, x); // keeps the input alive
                case 3 -> b.layerNorm(v, null, null, 1e-5f);
                default -> b.silu(v);
            };
        }
        b.output("y", v);
        return b.build();
    }

    @Test
    void memoryPlanSharesBuffersAndMatchesAPlanWithoutReuse() {
        Graph g = chain();
        CompiledGraph cg = Planner.compile(g, BACKEND);
        MemoryPlan plan = cg.plan();
        long valueBytes = 11L * 32 * 64 * 4;
        assertEquals(valueBytes, plan.unsharedBytes());
        assertTrue(cg.bufferBytes() < valueBytes, "slab " + cg.bufferBytes() + " vs " + valueBytes);
        assertTrue(
                cg.bufferBytes() <= 4L * 32 * 64 * 4,
                "a chain needs input, output and two temporaries: " + cg.bufferBytes());
        assertEquals(valueBytes, Planner.compile(g, BACKEND, NO_REUSE).bufferBytes());
        for (int seed = 0; seed < 3; seed++) {
            Map<String, Tensor> in = inputs("x", randn(seed, 32, 64));
            assertSame(
                    GraphTesting.run(g, NO_REUSE, in).get("y"),
                    GraphTesting.run(g, Planner.Options.DEFAULT, in).get("y"),
                    "reuse vs no reuse");
        }
    }

    @Test
    void memoryPlanNeverOverlapsTwoLiveValues() {
        // A diamond with views: the permute's source must stay alive until the view's last use.
        GraphBuilder b = new GraphBuilder();
        Value x = b.input("x", DType.F32, 8, 16);
        Value a = b.gelu(x);
        Value at = b.permute(a, 1, 0);
        Value s = b.silu(x);
        Value t = b.mulScalar(s, 2f);
        Value u = b.add(b.contiguous(at), b.permute(t, 1, 0));
        Value w = b.softmax(b.addScalar(u, 1f));
        b.output("y", b.add(w, at));
        b.output("s", s);
        CompiledGraph cg = Planner.compile(b.build(), BACKEND);
        List<MemoryPlan.Slot> slots = List.copyOf(cg.plan().slots().values());
        for (int i = 0; i < slots.size(); i++) {
            assertEquals(0, slots.get(i).offset() % 64, "alignment");
            for (int j = i + 1; j < slots.size(); j++) {
                assertFalse(slots.get(i).conflicts(slots.get(j)), slots.get(i) + " vs " + slots.get(j));
            }
        }
        Map<String, Tensor> in = inputs("x", randn(5, 8, 16));
        Map<String, Tensor> reuse = GraphTesting.run(b.build(), Planner.Options.DEFAULT, in);
        Map<String, Tensor> none = GraphTesting.run(b.build(), NO_REUSE, in);
        assertSame(none.get("y"), reuse.get("y"), "y");
        assertSame(none.get("s"), reuse.get("s"), "s");
    }

    @Test
    void shapeErrorsNameTheOpAndLocation() {
        GraphBuilder b = new GraphBuilder();
        b.at("dit.tess:3:7");
        Value x = b.input("x", DType.F32, 2, 8);
        Value w = b.constant("w", randn(1, 4, 6));
        assertShapeError("linear", () -> b.linear(x, w, null, Activation.NONE), "[2, 8]", "[4, 6]", "dit.tess:3:7");
        assertShapeError("add", () -> b.add(x, b.input("y", DType.F32, 3)), "[2, 8]", "[3]");
        assertShapeError("matmul", () -> b.matmul(x, x), "[2, 8]");
        assertShapeError("attention", () -> b.attention(x, x, x, 1f), "[2, 8]");
        assertShapeError("reshape", () -> b.reshape(x, 3, -1), "[2, 8]");
        assertShapeError("layerNorm", () -> b.layerNorm(x, w, null, 1e-5f), "[4, 6]");
        assertShapeError("modulate", () -> b.modulate(x, b.input("s", DType.F32, 3, 8), x), "[3, 8]");
        assertShapeError("concat", () -> b.concat(List.of(x, w), 0), "[2, 8]", "[4, 6]");
        assertShapeError("slice", () -> b.slice(x, 1, 2, 9), "[2, 8]");
        assertShapeError("permute", () -> b.permute(x, 0, 0), "[2, 8]");
        assertShapeError("expand", () -> b.expand(x, 3, 8), "[2, 8]");
        assertShapeError("embedding", () -> b.embedding(w, x), "[4, 6]");
        assertShapeError("gelu", () -> b.gelu(b.input("i", DType.I64, 2)), "i64");
        assertShapeError("conv2d", () -> b.conv2d(x, w, null, 1, 0), "[2, 8]");
    }

    @Test
    void runChecksInputsByName() {
        GraphBuilder b = new GraphBuilder();
        b.output("y", b.gelu(b.input("x", DType.F32, 2, 3)));
        try (Execution ex = Planner.compile(b.build(), BACKEND).newExecution()) {
            IllegalArgumentException missing = assertThrows(IllegalArgumentException.class, () -> ex.run(Map.of()));
            assertTrue(missing.getMessage().contains("'x'"), missing.getMessage());
            ShapeMismatchException shape =
                    assertThrows(ShapeMismatchException.class, () -> ex.run(inputs("x", randn(1, 3, 2))));
            assertTrue(
                    shape.getMessage().startsWith("input 'x'")
                            && shape.getMessage().contains("[3, 2]"),
                    shape.getMessage());
            ShapeMismatchException dtype = assertThrows(
                    ShapeMismatchException.class, () -> ex.run(inputs("x", Tensor.zeros(DType.F64, 2, 3))));
            assertTrue(dtype.getMessage().contains("f64"), dtype.getMessage());
            IllegalArgumentException unknown = assertThrows(
                    IllegalArgumentException.class, () -> ex.run(inputs("x", randn(1, 2, 3), "z", randn(1, 2, 3))));
            assertTrue(unknown.getMessage().contains("'z'"), unknown.getMessage());
            // A strided input is accepted and copied in.
            Tensor strided = randn(2, 3, 2).t();
            Tensor y = ex.run(inputs("x", strided)).get("y");
            assertEquals((float) Activation.GELU_TANH.apply(strided.getFloat(1, 2)), y.getFloat(1, 2), 1e-6f);
        }
    }

    @Test
    void twoExecutionsRunConcurrently() throws Exception {
        Graph g = fusable();
        CompiledGraph cg = Planner.compile(g, BACKEND);
        Map<String, Tensor> in1 = inputs("x", randn(1, 2, 5, 16), "c", randn(2, 2, 1, 16));
        Map<String, Tensor> in2 = inputs("x", randn(3, 2, 5, 16), "c", randn(4, 2, 1, 16));
        Map<String, Tensor> e1 = GraphTesting.run(g, Planner.Options.DEFAULT, in1);
        Map<String, Tensor> e2 = GraphTesting.run(g, Planner.Options.DEFAULT, in2);
        ExecutorService threads = Executors.newFixedThreadPool(2);
        try (Execution a = cg.newExecution();
                Execution b = cg.newExecution()) {
            Future<?> fa = threads.submit(() -> repeat(a, in1, e1));
            Future<?> fb = threads.submit(() -> repeat(b, in2, e2));
            fa.get();
            fb.get();
        } finally {
            threads.shutdown();
        }
    }

    private static Void repeat(Execution ex, Map<String, Tensor> in, Map<String, Tensor> expected) {
        for (int i = 0; i < 30; i++) {
            Map<String, Tensor> out = ex.run(in);
            assertSame(expected.get("mlp"), out.get("mlp"), "mlp run " + i);
            assertSame(expected.get("mod"), out.get("mod"), "mod run " + i);
        }
        return null;
    }

    @Test
    void profileCountsCallsAndFlops() {
        CompiledGraph cg = Planner.compile(fusable(), BACKEND);
        long linearFlops = 2L * 10 * 16 * 32 * 2;
        assertTrue(cg.flops() >= linearFlops, "flops " + cg.flops());
        Profile profile = new Profile();
        try (Execution ex = cg.newExecution()) {
            Map<String, Tensor> in = inputs("x", randn(1, 2, 5, 16), "c", randn(2, 2, 1, 16));
            ex.run(in, profile);
            ex.run(in, profile);
        }
        assertEquals(2, profile.runs());
        // The best whole run is one run's node time: positive, at most half the two runs' total.
        assertTrue(
                profile.bestRunNanos() > 0 && 2 * profile.bestRunNanos() <= profile.totalNanos(),
                profile.bestRunNanos() + " of " + profile.totalNanos());
        Profile.Entry linear = profile.byOp().stream()
                .filter(e -> e.kind().equals("linear"))
                .findFirst()
                .orElseThrow();
        assertEquals(4, linear.calls());
        assertEquals(2 * linearFlops, linear.flops());
        assertEquals(2 * cg.flops(), profile.totalFlops());
        String table = profile.table();
        assertTrue(table.contains("linear") && table.contains("layerNormModulate"), table);
        // Per GEMM shape: x [2, 5, 16] is M = 10 rows; the fused activations are named.
        List<String> shapes =
                profile.byLinearShape().stream().map(Profile.Entry::name).toList();
        assertEquals(
                List.of("10×16×32 +gelu_tanh", "10×32×16 +silu").stream()
                        .sorted()
                        .toList(),
                shapes.stream().sorted().toList());
        assertTrue(table.contains("linear M×K×N") && table.contains("10×16×32 +gelu_tanh"), table);
    }

    @Test
    void describeShowsShapesAndLocations() {
        GraphBuilder b = new GraphBuilder();
        b.at("dit.tess:12:5");
        b.output("y", b.gelu(b.input("x", DType.F32, 2, 3)));
        String text = b.build().describe();
        assertTrue(text.contains("%1 = gelu(%0) : f32[2, 3] @ dit.tess:12:5"), text);
        assertTrue(text.contains("outputs: y=%1"), text);
    }

    @Test
    void closedExecutionRefusesToRun() {
        GraphBuilder b = new GraphBuilder();
        b.output("y", b.gelu(b.input("x", DType.F32, 2)));
        Execution ex = Planner.compile(b.build(), BACKEND).newExecution();
        ex.close();
        assertThrows(IllegalStateException.class, () -> ex.run(inputs("x", randn(1, 2))));
        assertNotNull(copy(randn(1, 2)));
    }
}
