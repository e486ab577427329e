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
    private static final List<String> BUFFERS = List.of("x", "x0", "eps", "mean", "log_variance", "std", "noise",
            "prev_x0");

    private final SamplerDefinition sampler;
    private final GaussianDiffusion diffusion;
    private final X0Processing x0Processing;
    private final Backend host;
    /** Buffers and step plans by "x shape|output shape", kept across runs: a run allocates once, its steps not at all. */
    private final Map<String, Shaped> shaped = new HashMap<>();

    /** One step's plan, the quantities it takes, and its input map (prebuilt over the buffers). */
    private record StepPlan(List<String> inputs, Execution execution, Map<String, Tensor> in, boolean variance) {}

    /** What runs of one shape reuse: the quantities' buffers and the plan of each step index. */
    private static final class Shaped {
        final Arena arena = Arena.ofShared(); // the pool's workers fill the noise
        final Map<String, Tensor> buffers = new HashMap<>();
        final Tensor timesteps;
        final int[] t;
        final StepPlan[] steps;

        Shaped(int[] shape, int total) {
            for (String b : BUFFERS) {
                buffers.put(b, Tensor.zeros(arena, DType.F32, shape));
            }
            timesteps = Tensor.zeros(arena, DType.I64, shape[0]);
            t = new int[shape[0]];
            steps = new StepPlan[total];
        }
    }

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

    /** The plan of step index k, compiled on its first run: the sampler's forward with the step's values folded in. */
    private StepPlan plan(Shaped run, int k, int i, int total, int[] shape, Tensor output) {
        StepPlan p = run.steps[k];
        if (p == null) {
            StepValues values = stepValues(diffusion.schedule(), k, i, total);
            List<String> inputs = sampler.inputs(values);
            GraphBuilder g = new GraphBuilder();
            Map<String, Value> quantities = new LinkedHashMap<>();
            Map<String, Tensor> in = new HashMap<>();
            for (String q : inputs) {
                quantities.put(q, g.input(q, DType.F32, q.equals("output") ? output.shape() : shape));
                in.put(q, q.equals("output") ? output : run.buffers.get(q));
            }
            g.output("x", sampler.lowerStep(g, quantities, values));
            CompiledGraph graph = Planner.compile(g.build(), host);
            p = new StepPlan(inputs, graph.newExecution(), in, inputs.contains("log_variance") || inputs.contains("std"));
            run.steps[k] = p;
        }
        return p;
    }

    @Override
    public void close() {
        for (Shaped run : shaped.values()) {
            for (StepPlan p : run.steps) {
                if (p != null) {
                    p.execution().close();
                }
            }
            run.arena.close();
        }
        shaped.clear();
    }

    /**
     * Samples from {@code xT} (not modified), or from noise drawn from the seed when it is null.
     *
     * @return x_0, a new tensor the caller owns
     */
    Tensor sample(DenoisingModel model, int[] shape, Tensor xT, Tensor conditioning, long seed, StepCallback callback) {
        int total = diffusion.steps();
        Shaped run = null;
        Tensor x = null;
        Tensor start = Tensor.zeros(DType.F32, shape);
        if (xT != null) {
            start.copyFrom(xT);
        } else {
            new RandomStream(seed, 0).fillNormal(start, host.pool());
        }
        for (int i = 0; i < total; i++) {
            int k = total - 1 - i;
            int timestep = diffusion.schedule().modelTimestep(k);
            Tensor output;
            if (run == null) {
                // The buffers are keyed by the model's output shape too, known from the first call.
                int[] t0 = new int[shape[0]];
                Arrays.fill(t0, k);
                output = diffusion.modelOutput(model, start, t0, conditioning);
                String key = Arrays.toString(shape) + "|" + Arrays.toString(output.shape());
                run = shaped.computeIfAbsent(key, s -> new Shaped(shape, total));
                x = run.buffers.get("x");
                x.copyFrom(start);
            } else {
                Arrays.fill(run.t, k);
                output = diffusion.modelOutput(model, x, run.t, conditioning, run.timesteps);
            }
            Arrays.fill(run.t, k);
            // The model's output is read within this step, before the model runs again.
            StepPlan plan = plan(run, k, i, total, shape, output);
            Map<String, Tensor> q = run.buffers;
            List<String> needs = plan.inputs();
            diffusion.pMeanVarianceInto(output, x, run.t, x0Processing, q.get("x0"),
                    needs.contains("mean") ? q.get("mean") : null, plan.variance() ? q.get("log_variance") : null);
            if (needs.contains("eps")) {
                diffusion.epsFromX0Into(x, run.t, q.get("x0"), q.get("eps"));
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
            if (needs.contains("output")) {
                plan.in().put("output", output); // the same key: no allocation
            }
            x.copyFrom(plan.execution().run(plan.in()).get("x"));
            q.get("prev_x0").copyFrom(q.get("x0"));
            SamplingException.checkFinite(sampler.name(), x, i, total, timestep);
            callback.onStep(i, total, timestep, x, q.get("x0"));
        }
        start.copyFrom(x);
        return start;
    }
}
