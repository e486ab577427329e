package org.tessera.engine.graph;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.tessera.engine.backend.Activation;
import org.tessera.engine.backend.Backend;
import org.tessera.engine.reference.ScalarBackend;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Tensor;

/**
 * Every gradient rule against central finite differences, on small odd shapes, on the scalar
 * reference backend and the SIMD one. The loss is Σ out ⊙ R for a fixed random R, so that each
 * output element weighs differently; each input element's analytic gradient must agree with
 * (L(x + h) − L(x − h)) / 2h, the losses accumulated in double.
 */
class AutodiffTest {
    private static final Backend REFERENCE = ScalarBackend.create(GraphTesting.POOL);
    private static final float H = 1e-2f;
    private static final double TOLERANCE = 3e-3;

    /** Builds the function under test from its named inputs. */
    interface Function {
        Value apply(GraphBuilder g, Map<String, Value> in);
    }

    static Map<String, int[]> shapes(Object... pairs) {
        Map<String, int[]> m = new LinkedHashMap<>();
        for (int i = 0; i < pairs.length; i += 2) {
            m.put((String) pairs[i], (int[]) pairs[i + 1]);
        }
        return m;
    }

    static Stream<Arguments> cases() {
        return Stream.of(
                Arguments.of("add, broadcast", shapes("a", new int[] {3, 5}, "b", new int[] {5}), (Function)
                        (g, in) -> g.add(in.get("a"), in.get("b"))),
                Arguments.of(
                        "sub, broadcast over rows", shapes("a", new int[] {3, 5}, "b", new int[] {3, 1}), (Function)
                                (g, in) -> g.sub(in.get("a"), in.get("b"))),
                Arguments.of("mul, rank 3 by rank 1", shapes("a", new int[] {2, 3, 5}, "b", new int[] {5}), (Function)
                        (g, in) -> g.mul(in.get("a"), in.get("b"))),
                Arguments.of("div by b² + 1", shapes("a", new int[] {3, 7}, "b", new int[] {1, 7}), (Function)
                        (g, in) -> g.div(in.get("a"), g.addScalar(g.mul(in.get("b"), in.get("b")), 1f))),
                Arguments.of("scalars", shapes("x", new int[] {4, 3}), (Function)
                        (g, in) -> g.addScalar(g.mulScalar(in.get("x"), -2.5f), 0.75f)),
                Arguments.of("gelu", shapes("x", new int[] {7, 3}), (Function) (g, in) -> g.gelu(in.get("x"))),
                Arguments.of("silu", shapes("x", new int[] {7, 3}), (Function) (g, in) -> g.silu(in.get("x"))),
                Arguments.of("linear", shapes("x", new int[] {2, 3, 5}, "w", new int[] {4, 5}), (Function)
                        (g, in) -> g.linear(in.get("x"), in.get("w"), null, Activation.NONE)),
                Arguments.of(
                        "linear + bias + gelu",
                        shapes("x", new int[] {3, 5}, "w", new int[] {7, 5}, "b", new int[] {7}),
                        (Function) (g, in) -> g.linear(in.get("x"), in.get("w"), in.get("b"), Activation.GELU_TANH)),
                Arguments.of(
                        "linear + bias + silu",
                        shapes("x", new int[] {5, 3}, "w", new int[] {2, 3}, "b", new int[] {2}),
                        (Function) (g, in) -> g.linear(in.get("x"), in.get("w"), in.get("b"), Activation.SILU)),
                Arguments.of("matmul", shapes("a", new int[] {3, 4}, "b", new int[] {4, 5}), (Function)
                        (g, in) -> g.matmul(in.get("a"), in.get("b"))),
                Arguments.of("batched matmul", shapes("a", new int[] {2, 3, 4}, "b", new int[] {2, 4, 5}), (Function)
                        (g, in) -> g.matmul(in.get("a"), in.get("b"))),
                Arguments.of("softmax", shapes("x", new int[] {3, 7}), (Function) (g, in) -> g.softmax(in.get("x"))),
                Arguments.of("rotary 3-D positions", shapes("x", new int[] {1, 2, 8, 6}), (Function)
                        (g, in) -> PositionTables.rope3d(g, in.get("x"), 2, 2, 2, new int[] {2, 2, 2}, 10000)),
                Arguments.of(
                        "layernorm",
                        shapes("x", new int[] {2, 3, 9}, "w", new int[] {9}, "b", new int[] {9}),
                        (Function) (g, in) -> g.layerNorm(in.get("x"), in.get("w"), in.get("b"), 1e-6f)),
                Arguments.of(
                        "groupnorm, 3 groups of 2 channels",
                        shapes("x", new int[] {2, 6, 3, 2}, "w", new int[] {6}, "b", new int[] {6}),
                        (Function) (g, in) -> g.groupNorm(in.get("x"), 3, in.get("w"), in.get("b"), 1e-5f)),
                Arguments.of("groupnorm without affine, one group of [N, C]", shapes("x", new int[] {3, 5}), (Function)
                        (g, in) -> g.groupNorm(in.get("x"), 1, null, null, 1e-5f)),
                Arguments.of("layernorm without affine", shapes("x", new int[] {5, 6}), (Function)
                        (g, in) -> g.layerNorm(in.get("x"), null, null, 1e-6f)),
                Arguments.of(
                        "modulate",
                        shapes("x", new int[] {2, 5, 6}, "shift", new int[] {2, 1, 6}, "scale", new int[] {2, 1, 6}),
                        (Function) (g, in) -> g.modulate(in.get("x"), in.get("shift"), in.get("scale"))),
                Arguments.of("views: reshape, permute, unsqueeze, expand", shapes("x", new int[] {2, 3, 4}), (Function)
                        (g, in) -> g.expand(
                                g.unsqueeze(g.contiguous(g.permute(g.reshape(in.get("x"), 6, 4), 1, 0)), 0), 3, 4, 6)),
                Arguments.of(
                        "attention",
                        shapes("q", new int[] {2, 2, 3, 4}, "k", new int[] {2, 2, 5, 4}, "v", new int[] {2, 2, 5, 4}),
                        (Function) (g, in) -> g.attention(in.get("q"), in.get("k"), in.get("v"), 0.5f)),
                Arguments.of(
                        "attention with an additive (causal) mask",
                        shapes("q", new int[] {2, 2, 3, 4}, "k", new int[] {2, 2, 3, 4}, "v", new int[] {2, 2, 3, 4}),
                        (Function) (g, in) -> g.attention(
                                in.get("q"),
                                in.get("k"),
                                in.get("v"),
                                0.5f,
                                null,
                                g.constant(
                                        "mask", Tensor.of(new float[] {0, -1e9f, -1e9f, 0, 0, -1e9f, 0, 0, 0}, 3, 3)))),
                Arguments.of(
                        "attention over packed segments (two examples in a row of 5)",
                        shapes("q", new int[] {2, 2, 5, 3}, "k", new int[] {2, 2, 5, 3}, "v", new int[] {2, 2, 5, 3}),
                        (Function) (g, in) -> g.attention(
                                in.get("q"),
                                in.get("k"),
                                in.get("v"),
                                0.5f,
                                g.constant(
                                        "ids",
                                        Tensor.ofLongs(
                                                java.lang.foreign.Arena.ofAuto(),
                                                new long[] {0, 0, 1, 1, 1, 3, 3, 3, 3, 7},
                                                2,
                                                5)))),
                Arguments.of("slices, as adaLN chunks its parameters", shapes("x", new int[] {2, 9}), (Function)
                        (g, in) -> g.mul(g.slice(in.get("x"), 1, 0, 3), g.slice(in.get("x"), 1, 5, 8))),
                Arguments.of(
                        "2-D patch embedding",
                        shapes("x", new int[] {2, 3, 4, 6}, "w", new int[] {5, 3, 2, 2}, "b", new int[] {5}),
                        (Function) (g, in) -> g.patchEmbed2d(in.get("x"), in.get("w"), in.get("b"))),
                Arguments.of(
                        "3-D patch embedding (tubelets)",
                        shapes("x", new int[] {2, 2, 4, 3, 6}, "w", new int[] {3, 2, 2, 3, 2}, "b", new int[] {3}),
                        (Function) (g, in) -> g.patchEmbed3d(in.get("x"), in.get("w"), in.get("b"))),
                Arguments.of(
                        "concat along channels", shapes("a", new int[] {2, 3, 4}, "b", new int[] {2, 1, 4}), (Function)
                                (g, in) -> g.mul(
                                        g.concat(List.of(in.get("a"), in.get("b")), 1),
                                        g.concat(List.of(in.get("b"), in.get("a")), 1))),
                Arguments.of(
                        "conv2d 3×3, stride 2, padding 1, odd sizes",
                        shapes("x", new int[] {2, 3, 5, 4}, "w", new int[] {4, 3, 3, 3}, "b", new int[] {4}),
                        (Function) (g, in) -> g.conv2d(in.get("x"), in.get("w"), in.get("b"), 2, 1)),
                Arguments.of(
                        "conv2d 1×2, stride 1, no padding, no bias",
                        shapes("x", new int[] {1, 2, 3, 3}, "w", new int[] {3, 2, 1, 2}),
                        (Function) (g, in) -> g.conv2d(in.get("x"), in.get("w"), null, 1, 0)),
                Arguments.of("clamp to [-0.5, 0.7]", shapes("x", new int[] {4, 5}), (Function) (g, in) ->
                        g.mul(g.apply(new PointwiseOps.Clamp(-0.5f, 0.7f), List.of(in.get("x"))), in.get("x"))),
                Arguments.of("nearest upsampling ×3", shapes("x", new int[] {2, 3, 2, 3}), (Function)
                        (g, in) -> g.mul(g.upsampleNearest2d(in.get("x"), 3), g.upsampleNearest2d(in.get("x"), 3))),
                Arguments.of("embedding, an id picked twice", shapes("table", new int[] {5, 3}), (Function) (g, in) ->
                        g.embedding(
                                in.get("table"),
                                g.constant(
                                        "ids",
                                        Tensor.ofLongs(
                                                java.lang.foreign.Arena.ofAuto(), new long[] {4, 1, 4, 0}, 2, 2)))),
                Arguments.of("cross-entropy of logits against labels", shapes("z", new int[] {4, 5}), (Function)
                        (g, in) -> g.apply(
                                new GradientOps.CrossEntropy(),
                                List.of(
                                        in.get("z"),
                                        g.constant(
                                                "labels",
                                                Tensor.ofLongs(
                                                        java.lang.foreign.Arena.ofAuto(),
                                                        new long[] {3, 0, 4, 3},
                                                        4))))),
                Arguments.of(
                        "mean over the middle dim, as tokens are pooled", shapes("x", new int[] {2, 5, 3}), (Function)
                                (g, in) -> g.mean(in.get("x"), 1)),
                Arguments.of("mean over the last dim", shapes("x", new int[] {3, 7}), (Function)
                        (g, in) -> g.mean(in.get("x"), -1)),
                Arguments.of("a value used twice", shapes("x", new int[] {3, 5}), (Function)
                        (g, in) -> g.mul(g.gelu(in.get("x")), in.get("x"))),
                Arguments.of(
                        "a transformer MLP with a residual",
                        shapes(
                                "x",
                                new int[] {2, 3, 8},
                                "w1",
                                new int[] {11, 8},
                                "b1",
                                new int[] {11},
                                "w2",
                                new int[] {8, 11}),
                        (Function) (g, in) -> {
                            Value h = g.layerNorm(in.get("x"), null, null, 1e-6f);
                            h = g.linear(h, in.get("w1"), in.get("b1"), Activation.GELU_TANH);
                            return g.add(in.get("x"), g.linear(h, in.get("w2"), null, Activation.NONE));
                        }));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void gradientsMatchFiniteDifferencesOnTheReference(String name, Map<String, int[]> inputs, Function f) {
        check(name, inputs, f, REFERENCE);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void gradientsMatchFiniteDifferencesOnTheSimdBackend(String name, Map<String, int[]> inputs, Function f) {
        check(name, inputs, f, GraphTesting.BACKEND);
    }

    private static void check(String name, Map<String, int[]> shapes, Function f, Backend backend) {
        GraphBuilder g = new GraphBuilder();
        Map<String, Value> in = new LinkedHashMap<>();
        shapes.forEach((n, s) -> in.put(n, g.input(n, DType.F32, s)));
        Value out = f.apply(g, in);
        Value weighted = g.mul(out, g.constant("R", GraphTesting.randn(99, out.shape())));
        g.output("loss", g.apply(new GradientOps.SumTo(new int[] {1}), List.of(weighted)));
        Graph graph = Autodiff.differentiate(g.build(), "loss", shapes.keySet());
        Execution run = Planner.compile(graph, backend).newExecution();

        Map<String, Tensor> values = new LinkedHashMap<>();
        long seed = 1;
        for (Map.Entry<String, int[]> e : shapes.entrySet()) {
            values.put(e.getKey(), GraphTesting.randn(seed++, e.getValue()));
        }
        Map<String, float[]> analytic = new LinkedHashMap<>();
        Map<String, Tensor> results = run.run(values);
        for (String n : shapes.keySet()) {
            analytic.put(n, results.get(Autodiff.GRAD + n).contiguous().toFloatArray());
        }
        List<String> wrong = new ArrayList<>();
        for (String n : shapes.keySet()) {
            Tensor x = values.get(n);
            float[] grad = analytic.get(n);
            for (int i = 0; i < grad.length; i++) {
                float keep = x.toFloatArray()[i];
                set(x, i, keep + H);
                double plus = run.run(values).get("loss").toFloatArray()[0];
                set(x, i, keep - H);
                double minus = run.run(values).get("loss").toFloatArray()[0];
                set(x, i, keep);
                double fd = (plus - minus) / (2 * H);
                if (Math.abs(grad[i] - fd) > TOLERANCE * Math.max(1, Math.abs(fd))) {
                    wrong.add(n + "[" + i + "]: " + grad[i] + " vs " + fd);
                }
            }
        }
        if (!wrong.isEmpty()) {
            fail(name + " on " + backend.name() + ": " + wrong.size() + " gradients differ from finite differences: "
                    + wrong.subList(0, Math.min(6, wrong.size())));
        }
    }

    private static void set(Tensor x, int flat, float v) {
        int[] idx = new int[x.rank()];
        int rest = flat;
        for (int d = x.rank() - 1; d >= 0; d--) {
            idx[d] = rest % x.size(d);
            rest /= x.size(d);
        }
        x.setFloat(v, idx);
    }

    @Test
    void anOpWithoutARuleIsNamedWithItsPlace() {
        GraphBuilder g = new GraphBuilder();
        Value x = g.input("x", DType.F32, 3);
        g.at("m.tess:4:9");
        Value y = g.timestepEmbedding(x, 4, 10000); // timesteps are data, never trained: no rule
        g.output("loss", g.apply(new GradientOps.SumTo(new int[] {1}), List.of(y)));
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class, () -> Autodiff.differentiate(g.build(), "loss", List.of("x")));
        assertEquals(
                "timestepEmbedding has no gradient yet, and the loss depends on it (at m.tess:4:9)", e.getMessage());
    }

    @Test
    void aCastPassesTheGradientBackInTheInputsType() {
        // L = Σ f32(bf16(x)) ⊙ w: ∂L/∂x is w, rounded to bf16 on its way back through the casts
        GraphBuilder g = new GraphBuilder();
        Value x = g.input("x", DType.F32, 5);
        Tensor w = Tensor.of(new float[] {1.001f, -2.5f, 0.3333f, 7f, 1e-3f}, 5);
        Value y = g.mul(g.cast(g.cast(x, DType.BF16), DType.F32), g.constant("w", w));
        g.output("loss", g.apply(new GradientOps.SumTo(new int[] {1}), List.of(y)));
        Map<String, Tensor> r = GraphTesting.run(
                Autodiff.differentiate(g.build(), "loss", List.of("x")),
                Planner.Options.DEFAULT,
                Map.of("x", Tensor.of(new float[] {1, 2, 3, 4, 5}, 5)));
        Tensor bf16 = Tensor.zeros(DType.BF16, 5);
        bf16.copyFrom(w);
        Tensor expected = Tensor.zeros(DType.F32, 5);
        expected.copyFrom(bf16);
        org.junit.jupiter.api.Assertions.assertArrayEquals(
                expected.toFloatArray(), r.get(Autodiff.GRAD + "x").toFloatArray());
        assertTrue(expected.getFloat(0) != w.getFloat(0), "1.001 is not a bf16 number: the test sees the rounding");
    }

    @Test
    void anInputTheLossDoesNotReachHasAZeroGradient() {
        GraphBuilder g = new GraphBuilder();
        Value x = g.input("x", DType.F32, 3);
        g.input("unused", DType.F32, 2);
        g.output("loss", g.apply(new GradientOps.SumTo(new int[] {1}), List.of(g.mul(x, x))));
        Graph graph = Autodiff.differentiate(g.build(), "loss", List.of("x", "unused"));
        Map<String, Tensor> r = Planner.compile(graph, GraphTesting.BACKEND)
                .newExecution()
                .run(Map.of("x", Tensor.of(new float[] {1, -2, 3}, 3), "unused", Tensor.of(new float[] {5, 6}, 2)));
        assertTrue(
                java.util.Arrays.equals(new float[] {2, -4, 6}, r.get("grad.x").toFloatArray()));
        assertTrue(
                java.util.Arrays.equals(new float[] {0, 0}, r.get("grad.unused").toFloatArray()));
    }
}
