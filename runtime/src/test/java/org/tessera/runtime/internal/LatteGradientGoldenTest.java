package org.tessera.runtime.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
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
import org.tessera.engine.io.SafetensorsReader;
import org.tessera.engine.io.WeightSource;
import org.tessera.engine.parallel.WorkerPool;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Tensor;
import org.tessera.testing.RepoFiles;
import org.tessera.testing.TensorDifference;

/**
 * A training step's backward pass through the stdlib Latte against PyTorch's autograd of the
 * published model's semantics (runtime/src/test/python/latte_golden.py, gradient_golden): the
 * gradient of Σ r·out with respect to every learned weight of the tiny class-conditional Latte.
 * The forward is held to the reference by {@code LatteGoldenTest}; this holds what training
 * learns from — the way back through the spatial/temporal rearranges, the conditioning repeated
 * per frame and per position, and the temporal table added before the first temporal block.
 */
class LatteGradientGoldenTest {
    private static final Path GOLDENS = RepoFiles.root().resolve("runtime/src/test/resources/latte");

    @Test
    void everyLearnedWeightsGradientMatchesPyTorchsAutograd(@TempDir Path dir) throws Exception {
        Path weightsFile = GOLDENS.resolve("latte_tiny.safetensors");
        Path script = Files.writeString(dir.resolve("g.tess"), """
                import "latte.tess"
                pipeline g {
                    model   = Latte(input_size = 8, patch_size = 2, in_channels = 4, hidden_size = 32, depth = 4,
                                    num_heads = 2, num_frames = 3, num_classes = 5, extras = 2, learn_sigma = true)
                    weights = "%s"
                    inputs  = load("%s", x = "forward.x", t = "forward.t", y = "forward.y")
                    output "o.safetensors" = tensors(out)
                }
                """.formatted(
                        weightsFile, GOLDENS.resolve("latte_tiny_grad_reference.safetensors")));
        ModelDefinition model = Script.load(script).pipeline(null, Map.of()).model("out");
        try (SafetensorsReader weights = SafetensorsReader.open(weightsFile);
                SafetensorsReader ref =
                        SafetensorsReader.open(GOLDENS.resolve("latte_tiny_grad_reference.safetensors"));
                WorkerPool pool = new WorkerPool(2)) {
            Backend cpu = Backends.cpu(pool, m -> {});
            WeightSource source = (key, shape) -> weights.tensor(key);
            Map<String, Tensor> in = new LinkedHashMap<>();
            GraphBuilder g = new GraphBuilder();
            List<Value> inputs = new ArrayList<>();
            for (String name : List.of("x", "t", "y")) {
                Tensor v = ref.tensor("forward." + name);
                in.put(name, v);
                inputs.add(g.input(name, v.dtype(), v.shape()));
            }
            Value out = model.lowerTrainable(g, inputs, source, k -> true);
            Tensor r = ref.tensor("forward.r");
            in.put("r", r);
            // Σ r·out as a mean over each axis times the count: the ops the graph differentiates
            Value loss = g.mul(out, g.input("r", DType.F32, r.shape()));
            for (int axis = r.shape().length - 1; axis >= 0; axis--) {
                loss = g.mean(loss, axis);
            }
            g.output("loss", g.mulScalar(loss, r.numel()));
            Graph forward = g.build();
            Map<String, int[]> learned = model.learnedWeightShapes();
            for (String k : learned.keySet()) {
                in.put(k, weights.tensor(k));
            }
            Graph step = Autodiff.differentiate(forward, "loss", learned.keySet());
            try (Execution run = Planner.compile(step, cpu).newExecution()) {
                Map<String, Tensor> results = run.run(in);
                int compared = 0;
                StringBuilder worst = new StringBuilder();
                double worstRelative = 0;
                for (String k : learned.keySet()) {
                    Tensor expected = ref.tensor("grad." + k);
                    Tensor actual = results.get(Autodiff.GRAD + k);
                    double scale = Math.max(
                            1e-6, TensorDifference.maxAbs(expected, Tensor.zeros(DType.F32, expected.shape())));
                    double relative = TensorDifference.maxAbs(expected, actual) / scale;
                    if (relative > worstRelative) {
                        worstRelative = relative;
                        worst.setLength(0);
                        worst.append(k);
                    }
                    compared++;
                }
                System.out.printf("latte gradients: worst relative %.3g at %s%n", worstRelative, worst);
                assertEquals(51, compared, "the reference has a gradient for each learned weight: " + learned.keySet());
                assertTrue(
                        worstRelative <= 5e-5, // measured 1.1e-5
                        "gradients against PyTorch's: max |difference| / max |gradient| = " + worstRelative + " at "
                                + worst);
            }
        }
    }
}
