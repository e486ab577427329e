package org.tessera.engine.graph;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.tessera.engine.backend.Activation;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Tensor;

/**
 * The activation memory plan on a stack of adaLN transformer MLPs, the shape of DiT blocks'
 * second halves: recomputing the cheap values changes no gradient bit and lowers the planned
 * memory.
 */
class RematerializationTest {
    private static final int DEPTH = 4;
    private static final List<String> WEIGHTS = List.of("wada", "w1", "b1", "w2", "b2");

    /**
     * DEPTH times x ← x + W2·gelu(W1·modulate(LN(x), shift, scale) + b1) + b2, with shift and
     * scale from silu(c) and the weights shared (what matters here is the activations).
     */
    private static Graph block() {
        int b = 2;
        int n = 16;
        int d = 24;
        GraphBuilder g = new GraphBuilder();
        Value x = g.input("x", DType.F32, b, n, d);
        Value c = g.input("c", DType.F32, b, d);
        Value wada = g.input("wada", DType.F32, 2 * d, d);
        Value w1 = g.input("w1", DType.F32, 4 * d, d);
        Value b1 = g.input("b1", DType.F32, 4 * d);
        Value w2 = g.input("w2", DType.F32, d, 4 * d);
        Value b2 = g.input("b2", DType.F32, d);
        Value ada = g.linear(g.silu(c), wada, null, Activation.NONE);
        Value shift = g.unsqueeze(g.slice(ada, 1, 0, d), 1);
        Value scale = g.unsqueeze(g.slice(ada, 1, d, 2 * d), 1);
        Value out = x;
        for (int i = 0; i < DEPTH; i++) {
            Value h = g.modulate(g.layerNorm(out, null, null, 1e-6f), shift, scale);
            Value a = g.gelu(g.linear(h, w1, b1, Activation.NONE));
            out = g.add(out, g.linear(a, w2, b2, Activation.NONE));
        }
        Value weighted = g.mul(out, g.constant("R", GraphTesting.randn(99, out.shape())));
        g.output("loss", g.apply(new GradientOps.SumTo(new int[] {1}), List.of(weighted)));
        return g.build();
    }

    private static Map<String, Tensor> feed(Graph g) {
        Map<String, Tensor> in = new LinkedHashMap<>();
        long seed = 7;
        for (Map.Entry<String, Value> e : g.inputs().entrySet()) {
            in.put(e.getKey(), GraphTesting.randn(seed++, e.getValue().shape()));
        }
        return in;
    }

    @Test
    void recomputingCheapActivationsKeepsEveryGradientBitAndLowersThePlan() {
        Graph forward = block();
        List<String> log = new ArrayList<>();
        Graph kept = Autodiff.differentiate(forward, "loss", WEIGHTS, Autodiff.Activations.KEEP, log);
        Graph recomputed = Autodiff.differentiate(forward, "loss", WEIGHTS, Autodiff.Activations.RECOMPUTE_CHEAP, log);
        assertEquals(1, log.size());
        assertTrue(
                log.getFirst().contains("gelu ×" + DEPTH) && log.getFirst().contains("modulate ×" + DEPTH),
                log.getFirst());

        // without fusion, the same kernels run on the same operands: the same bits
        Planner.Options unfused = new Planner.Options(true, false, true);
        CompiledGraph keptPlan = Planner.compile(kept, GraphTesting.BACKEND, unfused);
        CompiledGraph recomputedPlan = Planner.compile(recomputed, GraphTesting.BACKEND, unfused);
        Map<String, Tensor> in = feed(forward);
        Map<String, Tensor> a = keptPlan.newExecution().run(in);
        Map<String, Tensor> b = recomputedPlan.newExecution().run(in);
        assertEquals(a.keySet(), b.keySet());
        for (String name : a.keySet()) {
            assertArrayEquals(a.get(name).toFloatArray(), b.get(name).toFloatArray(), name + " is not the same bits");
        }
        // per block, the GELU's [2, 16, 96] output is 12 KB and the modulation's [2, 16, 24] 3 KB;
        // the last block's are needed at once in the backward pass, the others' no longer wait
        // (measured: 181,056 → 135,680 bytes)
        assertTrue(
                recomputedPlan.bufferBytes() <= keptPlan.bufferBytes() - (DEPTH - 1) * 12 * 1024,
                recomputedPlan.bufferBytes() + " bytes planned against " + keptPlan.bufferBytes());
        // the layer norm's output is read once now, by the modulation: the two fuse, into a
        // kernel that rounds its own way
        CompiledGraph fused = Planner.compile(recomputed, GraphTesting.BACKEND);
        assertTrue(
                fused.passLog().stream().anyMatch(l -> l.contains("layernorm+modulate")),
                String.join("\n", fused.passLog()));
        assertTrue(
                Planner.compile(kept, GraphTesting.BACKEND).passLog().stream()
                        .noneMatch(l -> l.contains("layernorm+modulate")),
                "kept, the layer norm's output has a backward reader and does not fuse");
        Map<String, Tensor> c = fused.newExecution().run(in);
        for (String name : a.keySet()) {
            float[] e = a.get(name).toFloatArray();
            float[] f = c.get(name).toFloatArray();
            double diff = 0;
            double norm = 0;
            for (int i = 0; i < e.length; i++) {
                diff += (e[i] - f[i]) * (double) (e[i] - f[i]);
                norm += e[i] * (double) e[i];
            }
            assertTrue(
                    Math.sqrt(diff) <= 1e-5 * Math.sqrt(norm),
                    name + " with fusion: ‖Δ‖ " + Math.sqrt(diff) + " against ‖g‖ " + Math.sqrt(norm));
        }
    }

    @Test
    void anOutputOrAValueNothingCheapMakesIsNeverRecomputed() {
        GraphBuilder g = new GraphBuilder();
        Value x = g.input("x", DType.F32, 4, 8);
        Value w = g.input("w", DType.F32, 8, 8);
        Value h = g.linear(x, w, null, Activation.NONE); // a product: kept, never recomputed
        Value s = g.gelu(h);
        g.output("s", s); // an output: alive to the end anyway
        g.output("loss", g.apply(new GradientOps.SumTo(new int[] {1}), List.of(g.mul(s, s))));
        List<String> log = new ArrayList<>();
        Graph d = Autodiff.differentiate(g.build(), "loss", List.of("w"), Autodiff.Activations.RECOMPUTE_CHEAP, log);
        assertEquals(List.of("recompute: nothing pays"), log);
        assertTrue(d.nodes().stream()
                .noneMatch(n -> n.location() != null && n.location().contains("recomputed")));
    }
}
