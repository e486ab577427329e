package org.tessera.runtime.internal;

import java.lang.foreign.Arena;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tessera.dsl.SamplerDefinition;
import org.tessera.dsl.StepValues;
import org.tessera.engine.backend.Backend;
import org.tessera.engine.diffusion.DenoisingModel;
import org.tessera.engine.diffusion.GaussianDiffusion;
import org.tessera.engine.diffusion.NoiseSchedule;
import org.tessera.engine.diffusion.SamplingException;
import org.tessera.engine.diffusion.StepCallback;
import org.tessera.engine.diffusion.X0Processing;
import org.tessera.engine.graph.CompiledGraph;
import org.tessera.engine.graph.Execution;
import org.tessera.engine.graph.GraphBuilder;
import org.tessera.engine.graph.Planner;
import org.tessera.engine.graph.Value;
import org.tessera.engine.random.RandomStream;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Tensor;

/**
 * Runs a sampler written in the language over a diffusion process. Each step: the model's
 * output at (x_t, t); the diffusion core's quantities the sampler's step asks for (x̂₀, ε̂, the
 * posterior mean, the variance, the step's noise); then the step's own plan — the sampler's
 * forward lowered with that step's schedule values folded in as constants — gives x_{t−1}.
 *
 * <p>Randomness matches the Java samplers: x_T from stream 0 of the seed, the noise of step k
 * (the index in the respaced process) from stream k + 1. Step plans are compiled once per
 * (step, shape) and kept with this object; buffers are allocated once per run.
 */
final class ScriptedSampler implements AutoCloseable {
    private final SamplerDefinition sampler;
    private final GaussianDiffusion diffusion;
    private final X0Processing x0Processing;
    private final Backend host;
    /** Step plans by "step index|shape", kept across runs of the same sampler and process. */
    private final Map<String, StepPlan> plans = new HashMap<>();

    private record StepPlan(CompiledGraph graph, List<String> inputs, Execution execution) {}

    ScriptedSampler(SamplerDefinition sampler, GaussianDiffusion diffusion, X0Processing x0Processing, Backend host) {
        this.sampler = sampler;
        this.diffusion = diffusion;
        this.x0Processing = x0Processing;
        this.host = host;
    }

    /** The schedule values of step index k (in the respaced process) when it is run as step i of total. */
    static StepValues stepValues(NoiseSchedule s, int k, int i, int total) {
        double before = k + 1 < s.steps() ? s.alphaBar(k + 1) : s.alphaBar(k);
        return new StepValues(s.alphaBar(k), s.alphaBarPrev(k), before, s.beta(k), s.posteriorVariance(k),
                s.posteriorLogVarianceClipped(k), s.modelTimestep(k), i, total);
    }

    private StepPlan plan(int k, int i, int total, int[] shape, int[] outputShape) {
        String key = k + "|" + Arrays.toString(shape) + "|" + Arrays.toString(outputShape);
        StepPlan p = plans.get(key);
        if (p == null) {
            StepValues values = stepValues(diffusion.schedule(), k, i, total);
            List<String> inputs = sampler.inputs(values);
            GraphBuilder g = new GraphBuilder();
            Map<String, Value> quantities = new LinkedHashMap<>();
            for (String q : inputs) {
                quantities.put(q, g.input(q, DType.F32, q.equals("output") ? outputShape : shape));
            }
            g.output("x", sampler.lowerStep(g, quantities, values));
            CompiledGraph graph = Planner.compile(g.build(), host);
            p = new StepPlan(graph, inputs, graph.newExecution());
            plans.put(key, p);
        }
        return p;
    }

    @Override
    public void close() {
        plans.values().forEach(p -> p.execution().close());
        plans.clear();
    }

    /**
     * Samples from {@code xT} (not modified), or from noise drawn from the seed when it is null.
     *
     * @return x_0, a new tensor the caller owns
     */
    Tensor sample(DenoisingModel model, int[] shape, Tensor xT, Tensor conditioning, long seed, StepCallback callback) {
        Tensor x = Tensor.zeros(DType.F32, shape);
        if (xT != null) {
            x.copyFrom(xT);
        } else {
            new RandomStream(seed, 0).fillNormal(x, host.pool());
        }
        int total = diffusion.steps();
        int batch = shape[0];
        int[] t = new int[batch];
        try (Arena arena = Arena.ofShared()) {
            Tensor timesteps = Tensor.zeros(arena, DType.I64, batch);
            Map<String, Tensor> q = new HashMap<>();
            for (String name : List.of("x0", "eps", "mean", "log_variance", "std", "noise", "prev_x0")) {
                q.put(name, Tensor.zeros(arena, DType.F32, shape));
            }
            q.put("x", x);
            Map<String, Tensor> in = new HashMap<>();
            for (int i = 0; i < total; i++) {
                int k = total - 1 - i;
                Arrays.fill(t, k);
                int timestep = diffusion.schedule().modelTimestep(k);
                // The model's output is read within this step, before the model runs again.
                Tensor output = diffusion.modelOutput(model, x, t, conditioning, timesteps);
                StepPlan plan = plan(k, i, total, shape, output.shape());
                List<String> needs = plan.inputs();
                boolean variance = needs.contains("log_variance") || needs.contains("std");
                diffusion.pMeanVarianceInto(output, x, t, x0Processing, q.get("x0"),
                        needs.contains("mean") ? q.get("mean") : null, variance ? q.get("log_variance") : null);
                if (needs.contains("eps")) {
                    diffusion.epsFromX0Into(x, t, q.get("x0"), q.get("eps"));
                }
                if (needs.contains("std")) {
                    diffusion.stdInto(q.get("log_variance"), q.get("std"));
                }
                if (needs.contains("noise")) {
                    new RandomStream(seed, k + 1L).fillNormal(q.get("noise"), host.pool());
                }
                if (i == 0) {
                    q.get("prev_x0").copyFrom(q.get("x0"));
                }
                in.clear();
                for (String name : needs) {
                    in.put(name, name.equals("output") ? output : q.get(name));
                }
                Tensor next = plan.execution().run(in).get("x");
                x.copyFrom(next);
                q.get("prev_x0").copyFrom(q.get("x0"));
                SamplingException.checkFinite(sampler.name(), x, i, total, timestep);
                callback.onStep(i, total, timestep, x, q.get("x0"));
            }
        }
        return x;
    }
}
