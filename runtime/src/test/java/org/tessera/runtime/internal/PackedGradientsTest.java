package org.tessera.runtime.internal;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessera.dsl.ModelDefinition;
import org.tessera.dsl.Script;
import org.tessera.engine.backend.Backend;
import org.tessera.engine.backend.Backends;
import org.tessera.engine.graph.Autodiff;
import org.tessera.engine.graph.Execution;
import org.tessera.engine.graph.Graph;
import org.tessera.engine.graph.GraphBuilder;
import org.tessera.engine.graph.Planner;
import org.tessera.engine.graph.Value;
import org.tessera.engine.io.WeightBinding;
import org.tessera.engine.io.WeightSource;
import org.tessera.engine.packing.Patches;
import org.tessera.engine.parallel.WorkerPool;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Tensor;

/**
 * Patch n' Pack in training (issue 16): the gradients of a loss over one packed forward equal the
 * sums of each example's own. The loss is Σ r·out over the examples' tokens, r fixed and random
 * (zero on padding), so the packed loss is the sum of the separate ones and so must be its
 * gradient with respect to every weight of PackedDiT.
 */
class PackedGradientsTest {
    @TempDir
    Path dir;

    @Test
    void aPackedStepsGradientsAreTheSumOfEachExamplesOwn() throws Exception {
        Files.write(dir.resolve("unused.safetensors"), new byte[0]); // named by the script, never read
        Path script = Files.writeString(dir.resolve("p.tess"), """
                import "packed.tess"
                pipeline p {
                    model   = PackedDiT(input_size = 8, patch_size = 2, in_channels = 4, hidden_size = 32, depth = 2,
                                        num_heads = 2, num_classes = 3, learn_sigma = false)
                    weights = random(seed = 0)
                    inputs  = load("unused.safetensors", tokens = "tokens", pos = "pos", gather = "gather",
                                   segments = "segments", t = "t", y = "y")
                    output "o.safetensors" = tensors(out)
                }
                """);
        ModelDefinition model = Script.load(script).pipeline(null, Map.of()).model("out");
        SplittableRandom random = new SplittableRandom(9);
        List<Tensor> examples = new ArrayList<>();
        for (int[] hw : new int[][] {{8, 8}, {4, 8}, {8, 4}}) {
            float[] v = new float[4 * hw[0] * hw[1]];
            for (int i = 0; i < v.length; i++) {
                v[i] = (float) random.nextGaussian();
            }
            examples.add(Tensor.of(v, 4, hw[0], hw[1]));
        }
        long[] t = {100, 700, 3};
        long[] y = {2, 0, 1};
        try (WorkerPool pool = new WorkerPool(2)) {
            Backend cpu = Backends.cpu(pool, m -> {});
            List<Arena> arenas = new ArrayList<>();
            WeightSource weights = WeightBinding.random(4, 0.05, cpu, arenas).source();
            Map<String, Tensor> packed = gradients(model, cpu, weights, examples, t, y, 32);
            Map<String, Tensor> summed = new HashMap<>();
            for (int e = 0; e < examples.size(); e++) {
                Map<String, Tensor> one = gradients(
                        model, cpu, weights, List.of(examples.get(e)), new long[] {t[e]}, new long[] {y[e]}, (int)
                                (examples.get(e).numel() / 16));
                one.forEach((k, g) -> summed.merge(k, g, PackedGradientsTest::add));
            }
            double worst = 0;
            for (String k : packed.keySet()) {
                float[] a = packed.get(k).toFloatArray();
                float[] b = summed.get(k).toFloatArray();
                double scale = 1e-6;
                for (float v : b) {
                    scale = Math.max(scale, Math.abs(v));
                }
                for (int i = 0; i < a.length; i++) {
                    worst = Math.max(worst, Math.abs(a[i] - b[i]) / scale);
                }
            }
            assertTrue(packed.size() > 20, "every learned weight has a gradient: " + packed.size());
            assertTrue(worst <= 1e-4, "packed against summed gradients: max relative |difference| " + worst);
        }
    }

    /**
     * ∂(Σ r·out)/∂w for the examples packed in rows of {@code rowLength}: r is drawn for each
     * example from a stream of its own, whatever its row, and is zero on padding.
     */
    private static Map<String, Tensor> gradients(
            ModelDefinition model,
            Backend cpu,
            WeightSource weights,
            List<Tensor> examples,
            long[] t,
            long[] y,
            int rowLength) {
        Patches.Packed p = Patches.pack(examples, 1, 2, rowLength);
        int rows = p.plan().rows();
        int dim = 2 * 2 * 4; // an output token: p·p·C', C' = 4 without a learned variance
        Map<String, Tensor> in = new LinkedHashMap<>();
        in.put("tokens", p.tokens());
        in.put("pos", Patches.sinCos2d(p, 32));
        in.put("gather", p.gather());
        in.put("segments", p.segments());
        float[] tf = new float[t.length];
        for (int i = 0; i < t.length; i++) {
            tf[i] = t[i];
        }
        in.put("t", Tensor.of(tf, t.length));
        in.put("y", Tensor.ofLongs(Arena.ofAuto(), y, y.length));
        // r: for each example its own N(0, 1) values in its own place, whatever row it is in
        float[] r = new float[rows * rowLength * dim];
        for (int e = 0; e < examples.size(); e++) {
            var pl = p.plan().placements().get(e);
            SplittableRandom rnd = new SplittableRandom(seedOf(examples.get(e)));
            for (int i = 0; i < pl.tokens() * dim; i++) {
                r[(pl.row() * rowLength + pl.offset()) * dim + i] = (float) rnd.nextGaussian();
            }
        }
        in.put("r", Tensor.of(r, rows, rowLength, dim));
        GraphBuilder g = new GraphBuilder();
        List<Value> inputs = new ArrayList<>();
        for (String name : List.of("tokens", "pos", "gather", "segments", "t", "y")) {
            Tensor v = in.get(name);
            inputs.add(g.input(name, v.dtype(), v.shape()));
        }
        Value out = model.lowerTrainable(g, inputs, weights, k -> true);
        Value weighted = g.mul(out, g.input("r", DType.F32, rows, rowLength, dim));
        long count = (long) rows * rowLength * dim;
        g.output("loss", g.mulScalar(g.mean(g.mean(g.mean(weighted, 2), 1), 0), count));
        Graph forward = g.build();
        Map<String, int[]> learned = model.learnedWeightShapes();
        for (Map.Entry<String, int[]> e : learned.entrySet()) {
            in.put(e.getKey(), weights.tensor(e.getKey(), e.getValue()));
        }
        Graph step = Autodiff.differentiate(forward, "loss", learned.keySet());
        try (Execution run = Planner.compile(step, cpu).newExecution()) {
            Map<String, Tensor> results = run.run(in);
            Map<String, Tensor> grads = new HashMap<>();
            for (String k : learned.keySet()) {
                Tensor gk = results.get(Autodiff.GRAD + k);
                Tensor copy = Tensor.zeros(DType.F32, gk.shape());
                copy.copyFrom(gk);
                grads.put(k, copy);
            }
            return grads;
        }
    }

    /** A seed that follows the example, not its place in a batch. */
    private static long seedOf(Tensor example) {
        return Float.floatToIntBits(example.toFloatArray()[0]) * 31L + example.numel();
    }

    private static Tensor add(Tensor a, Tensor b) {
        float[] x = a.toFloatArray();
        float[] z = b.toFloatArray();
        for (int i = 0; i < x.length; i++) {
            x[i] += z[i];
        }
        return Tensor.of(x, a.shape());
    }
}
