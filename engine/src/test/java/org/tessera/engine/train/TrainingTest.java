package org.tessera.engine.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.tessera.engine.backend.Activation;
import org.tessera.engine.backend.Backends;
import org.tessera.engine.graph.Autodiff;
import org.tessera.engine.graph.Execution;
import org.tessera.engine.graph.GradientOps;
import org.tessera.engine.graph.Graph;
import org.tessera.engine.graph.GraphBuilder;
import org.tessera.engine.graph.Planner;
import org.tessera.engine.graph.Value;
import org.tessera.engine.parallel.WorkerPool;
import org.tessera.engine.random.RandomStream;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Tensor;

/** A small network trained end to end: differentiated graph, clipping, AdamW, EMA. */
class TrainingTest {
    private static final int BATCH = 64;

    private static Tensor randn(long seed, float std, int... shape) {
        Tensor t = Tensor.zeros(DType.F32, shape);
        try (WorkerPool pool = new WorkerPool(1)) {
            new RandomStream(seed, 0).fillNormal(t, pool);
        }
        float[] v = t.toFloatArray();
        for (int i = 0; i < v.length; i++) {
            v[i] *= std;
        }
        return Tensor.of(v, shape);
    }

    /** loss = mean((MLP(x) − y)²), MLP = linear(16, GELU) → linear(2). */
    private static Graph mlp() {
        GraphBuilder g = new GraphBuilder();
        Value x = g.input("x", DType.F32, BATCH, 3);
        Value y = g.input("y", DType.F32, BATCH, 2);
        Value h = g.linear(x, g.input("w1", DType.F32, 16, 3), g.input("b1", DType.F32, 16), Activation.GELU_TANH);
        Value out = g.linear(h, g.input("w2", DType.F32, 2, 16), g.input("b2", DType.F32, 2), Activation.NONE);
        Value d = g.sub(out, y);
        Value sum = g.apply(new GradientOps.SumTo(new int[] {1}), List.of(g.mul(d, d)));
        g.output("loss", g.mulScalar(sum, 1f / (BATCH * 2)));
        return g.build();
    }

    @Test
    void aSmallNetworkLearnsASmoothFunction() {
        Map<String, Tensor> params = new LinkedHashMap<>();
        params.put("w1", randn(1, 0.5f, 16, 3));
        params.put("b1", Tensor.zeros(DType.F32, 16));
        params.put("w2", randn(2, 0.5f, 2, 16));
        params.put("b2", Tensor.zeros(DType.F32, 2));
        Graph train = Autodiff.differentiate(mlp(), "loss", params.keySet());
        Tensor x = randn(3, 1f, BATCH, 3);
        float[] xv = x.toFloatArray();
        float[] yv = new float[BATCH * 2];
        for (int i = 0; i < BATCH; i++) { // y = (sin(x0 + 2·x1), x2·x0)
            yv[2 * i] = (float) Math.sin(xv[3 * i] + 2 * xv[3 * i + 1]);
            yv[2 * i + 1] = xv[3 * i + 2] * xv[3 * i];
        }
        Tensor y = Tensor.of(yv, BATCH, 2);

        try (WorkerPool pool = new WorkerPool(1)) {
            Execution run = Planner.compile(train, Backends.cpu(pool, m -> {})).newExecution();
            Map<String, Tensor> feed = new LinkedHashMap<>(params);
            feed.put("x", x);
            feed.put("y", y);
            AdamW adam = AdamW.withWeightDecay(1e-4);
            Ema ema = new Ema(0.95, params);
            Map<String, Tensor> grads = new LinkedHashMap<>();
            double first = Double.NaN;
            double last = Double.NaN;
            for (int step = 1; step <= 400; step++) {
                Map<String, Tensor> r = run.run(feed);
                last = r.get("loss").toFloatArray()[0];
                if (step == 1) {
                    first = last;
                }
                for (String n : params.keySet()) {
                    grads.put(n, r.get(Autodiff.GRAD + n));
                }
                double norm = GradientClipping.clipGlobalNorm(List.copyOf(grads.values()), 5.0);
                assertTrue(Double.isFinite(norm));
                adam.step(params, grads, step, 1e-2);
                ema.update(params);
            }
            System.out.printf(java.util.Locale.ROOT, "MLP: loss %.4f → %.5f in 400 steps%n", first, last);
            assertTrue(last < first / 20, "loss " + first + " → " + last);
            // the averaged weights fit too
            Map<String, Tensor> emaFeed = new LinkedHashMap<>(ema.weights());
            emaFeed.put("x", x);
            emaFeed.put("y", y);
            double emaLoss = run.run(emaFeed).get("loss").toFloatArray()[0];
            assertTrue(emaLoss < first / 10, "EMA loss " + emaLoss + " against " + first);
        }
    }

    @Test
    void clippingScalesTheGlobalNormDownToTheLimit() {
        Map<String, Tensor> g = new LinkedHashMap<>();
        g.put("a", Tensor.of(new float[] {3, 0}, 2));
        g.put("b", Tensor.of(new float[] {4}, 1));
        assertEquals(5.0, GradientClipping.clipGlobalNorm(List.copyOf(g.values()), 1.0), 1e-9);
        assertEquals(1.0, GradientClipping.globalNorm(List.copyOf(g.values())), 1e-5);
        assertEquals(0.6f, g.get("a").toFloatArray()[0], 1e-5f);
    }

    @Test
    void adamWsFirstStepIsLrTimesTheGradientsSignPlusDecay() {
        // m̂ = g, v̂ = g² on step 1: the update is lr·(g/(|g| + ε) + λ·p)
        Map<String, Tensor> p = new LinkedHashMap<>(Map.of("p", Tensor.of(new float[] {1f, -2f}, 2)));
        Map<String, Tensor> g = Map.of("p", Tensor.of(new float[] {0.5f, -3f}, 2));
        new AdamW(0.9, 0.999, 1e-8, 0.1).step(p, g, 1, 0.01);
        float[] v = p.get("p").toFloatArray();
        assertEquals(1f - 0.01f * (1 + 0.1f * 1f), v[0], 1e-6f);
        assertEquals(-2f - 0.01f * (-1 + 0.1f * -2f), v[1], 1e-6f);
    }
}
