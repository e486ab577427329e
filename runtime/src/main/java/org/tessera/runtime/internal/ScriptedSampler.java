package org.tessera.runtime.internal;

import java.lang.foreign.Arena;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.tessera.dsl.SamplerDefinition;
import org.tessera.dsl.StepValues;
import org.tessera.engine.backend.Backend;
import org.tessera.engine.diffusion.DenoisingModel;
import org.tessera.engine.diffusion.SamplingException;
import org.tessera.engine.diffusion.StepCallback;
import org.tessera.engine.graph.CompiledGraph;
import org.tessera.engine.graph.Execution;
import org.tessera.engine.graph.GraphBuilder;
import org.tessera.engine.graph.Planner;
import org.tessera.engine.random.RandomStream;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Tensor;

/**
 * Runs a sampler written in the language over a {@link StepProcess} (a Gaussian diffusion or a
 * rectified flow). Each step: the model's output at (x_t, t); the quantities the sampler's step
 * asks for (x̂₀, ε̂, the posterior mean, the variance, the step's noise); then the step's own plan
 * — the sampler's forward lowered with that step's values folded in as constants — gives x_{t−1}.
 *
 * <p>Randomness matches the Java samplers: x_T from stream 0 of the seed, the noise of step k
 * (the index in the respaced process) from stream k + 1. Step plans are compiled once per
 * (step, shape) and kept with this object, and so are the buffers: a warm run allocates its result
 * and little else.
 */
final class ScriptedSampler implements AutoCloseable {
    private static final List<String> BUFFERS =
            List.of("x", "x0", "eps", "mean", "log_variance", "std", "noise", "prev_x0");

    private final SamplerDefinition sampler;
    /** {@code file:line:col: ddim}: where a NaN step's message points (made once, not per step). */
    private final String label;

    private final StepProcess process;
    private final Backend host;
    /** Buffers and step plans by "x shape|output shape", kept across runs: a run allocates once, its steps not at all. */
    private final Map<String, Shaped> shaped = new HashMap<>();

    /** One step's plan, the quantities it takes, and its input map (prebuilt over the buffers). */
    private record StepPlan(List<String> inputs, Execution execution, Map<String, Tensor> in) {}

    /** What runs of one shape reuse: the quantities' buffers and the plan of each step index. */
    private static final class Shaped {
        final Arena arena = Arena.ofShared(); // the pool's workers fill the noise
        final Map<String, Tensor> buffers = new HashMap<>();
        final Tensor timesteps;
        final StepPlan[] steps;

        Shaped(int[] shape, int total, DType timestepType) {
            for (String b : BUFFERS) {
                buffers.put(b, Tensor.zeros(arena, DType.F32, shape));
            }
            timesteps = Tensor.zeros(arena, timestepType, shape[0]);
            steps = new StepPlan[total];
        }
    }

    ScriptedSampler(SamplerDefinition sampler, StepProcess process, Backend host) {
        this.sampler = sampler;
        this.label = sampler.span() + ": " + sampler.name();
        this.process = process;
        this.host = host;
    }

    /** The plan of step i, compiled on its first run: the sampler's forward with the step's values folded in. */
    private StepPlan plan(Shaped run, int i, int[] shape, Tensor output) {
        StepPlan p = run.steps[i];
        if (p == null) {
            StepValues values = process.values(i);
            GraphBuilder g = new GraphBuilder();
            Map<String, Tensor> in = new HashMap<>();
            SamplerDefinition.LoweredStep step = sampler.lowerStep(
                    g,
                    q -> {
                        in.put(q, q.equals("output") ? output : run.buffers.get(q));
                        return g.input(q, DType.F32, q.equals("output") ? output.shape() : shape);
                    },
                    values);
            g.output("x", step.next());
            CompiledGraph graph = Planner.compile(g.build(), host);
            p = new StepPlan(step.inputs(), graph.newExecution(), in);
            run.steps[i] = p;
        }
        return p;
    }

    @Override
    public void close() {
        for (Shaped run : shaped.values()) {
            try {
                for (StepPlan p : run.steps) {
                    if (p != null) {
                        p.execution().close();
                    }
                }
            } finally {
                run.arena.close(); // the buffers go even when an execution fails to close
            }
        }
        shaped.clear();
    }

    /**
     * Samples from {@code xT} (not modified), or from noise drawn from the seed when it is null.
     *
     * @return x_0, a new tensor the caller owns
     */
    Tensor sample(DenoisingModel model, int[] shape, Tensor xT, Tensor conditioning, long seed, StepCallback callback) {
        return sample(model, shape, xT, conditioning, seed, callback, 0);
    }

    /** {@link #sample} from step {@code first} on, {@code xT} being the state at that step (img2img). */
    Tensor sample(
            DenoisingModel model,
            int[] shape,
            Tensor xT,
            Tensor conditioning,
            long seed,
            StepCallback callback,
            int first) {
        int total = process.steps();
        Tensor start = Tensor.zeros(DType.F32, shape);
        if (xT != null) {
            start.copyFrom(xT);
        } else {
            new RandomStream(seed, 0).fillNormal(start, host.pool());
        }
        Shaped run = null;
        Tensor x = start;
        for (int i = first; i < total; i++) {
            int timestep = process.timestep(i);
            Tensor timesteps = run != null ? run.timesteps : Tensor.zeros(process.timestepType(), shape[0]);
            // The model's output is read within this step, before the model runs again.
            Tensor output = process.modelOutput(model, x, i, conditioning, timesteps);
            if (run == null) {
                // The buffers are keyed by the model's output shape too, known from the first call.
                String key = Arrays.toString(shape) + "|" + Arrays.toString(output.shape());
                run = shaped.computeIfAbsent(key, s -> new Shaped(shape, total, process.timestepType()));
                x = run.buffers.get("x");
                x.copyFrom(start);
            }
            StepPlan plan = plan(run, i, shape, output);
            Map<String, Tensor> q = run.buffers;
            List<String> needs = plan.inputs();
            process.quantities(output, x, i, needs, q);
            if (needs.contains("noise")) {
                // As the Java samplers: step index k = total − 1 − i draws from stream k + 1.
                new RandomStream(seed, total - i).fillNormal(q.get("noise"), host.pool());
            }
            if (i == first) {
                q.get("prev_x0").copyFrom(q.get("x0"));
            }
            if (needs.contains("output")) {
                plan.in().put("output", output); // the same key: no allocation
            }
            x.copyFrom(plan.execution().run(plan.in()).get("x"));
            q.get("prev_x0").copyFrom(q.get("x0"));
            SamplingException.checkFinite(label, x, i, total, timestep);
            callback.onStep(i, total, timestep, x, q.get("x0"));
        }
        start.copyFrom(x);
        return start;
    }
}
