package org.tessera.runtime.internal;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tessera.dsl.ModelContract;
import org.tessera.dsl.pipeline.PipelineSettings;
import org.tessera.engine.device.ComputeDevice;
import org.tessera.engine.diffusion.ClassifierFreeGuidance;
import org.tessera.engine.diffusion.DenoisingModel;
import org.tessera.engine.diffusion.GaussianDiffusion;
import org.tessera.engine.diffusion.Sampler;
import org.tessera.engine.diffusion.StepCallback;
import org.tessera.engine.graph.Execution;
import org.tessera.engine.graph.Profile;
import org.tessera.engine.tensor.Tensor;
import org.tessera.runtime.SampleRequest;
import org.tessera.runtime.SampleResult;

/**
 * A pipeline ready to run: its device, weights and plans, and the one-stage program its settings
 * describe (one forward pass, or sampling). {@code org.tessera.runtime.Pipeline} is its public face.
 */
public final class CompiledPipeline implements AutoCloseable {
    private final PipelineSettings settings;
    private final String modelName;
    private final ModelContract contract;
    private final ComputeDevice device;
    private final ModelPlans plans;
    private final List<String> inputNames;
    private final Map<String, int[]> inputShapes;
    private final Map<String, Tensor> forwardInputs;
    private final long numClasses;
    private final Arena arena;
    private final Runnable onClose;

    CompiledPipeline(PipelineSettings settings, String modelName, ModelContract contract, ComputeDevice device,
                     ModelPlans plans,
                     List<String> inputNames, Map<String, int[]> inputShapes, Map<String, Tensor> forwardInputs,
                     long numClasses, Arena arena, Runnable onClose) {
        this.settings = settings;
        this.modelName = modelName;
        this.contract = contract;
        this.device = device;
        this.plans = plans;
        this.inputNames = List.copyOf(inputNames);
        this.inputShapes = inputShapes;
        this.forwardInputs = forwardInputs;
        this.numClasses = numClasses;
        this.arena = arena;
        this.onClose = onClose;
    }

    public PipelineSettings settings() {
        return settings;
    }

    public String modelName() {
        return modelName;
    }

    public ComputeDevice device() {
        return device;
    }

    /** The plan of the pipeline's own shapes. */
    public ModelPlans.Plan defaultPlan() {
        return plans.plan(inputShapes);
    }

    public ModelPlans plans() {
        return plans;
    }

    public List<String> inputNames() {
        return inputNames;
    }

    public Map<String, int[]> inputShapes() {
        Map<String, int[]> m = new LinkedHashMap<>();
        inputShapes.forEach((k, v) -> m.put(k, v.clone()));
        return m;
    }

    public boolean isSampling() {
        return settings.sampling() != null;
    }

    /** One forward pass at the inputs' own shapes (a plan is compiled for new shapes). */
    public Map<String, Tensor> forward(Map<String, Tensor> inputs) {
        Map<String, int[]> shapes = new LinkedHashMap<>();
        for (String name : inputNames) {
            Tensor t = inputs.get(name);
            if (t == null) {
                throw new IllegalArgumentException("forward input '" + name + "' is missing (inputs: "
                        + String.join(", ", inputNames) + ")");
            }
            shapes.put(name, t.shape());
        }
        for (String name : inputs.keySet()) {
            if (!inputNames.contains(name)) {
                throw new IllegalArgumentException("'" + name + "' is not a forward input of " + modelName + " (inputs: "
                        + String.join(", ", inputNames) + ")");
            }
        }
        return plans.plan(shapes).run(inputs);
    }

    /** The forward pass on the pipeline's own {@code inputs}, with the inputs among the results. */
    public Map<String, Tensor> runForward() {
        if (forwardInputs == null) {
            throw new IllegalStateException("pipeline '" + settings.name() + "' samples; it has no forward inputs");
        }
        Map<String, Tensor> result = new LinkedHashMap<>(forwardInputs);
        result.putAll(forward(forwardInputs));
        return result;
    }

    /** Profiles {@code runs} forward passes after two warm-ups (the JIT compiles kernels during the first). */
    public Profile profile(int runs) {
        Map<String, Tensor> inputs = forwardInputs != null ? forwardInputs : zeroInputs();
        ModelPlans.Plan plan = defaultPlan();
        Execution e = plan.acquire();
        try {
            e.run(inputs);
            e.run(inputs);
            Profile p = new Profile();
            for (int i = 0; i < runs; i++) {
                e.run(inputs, p);
            }
            return p;
        } finally {
            plan.release(e);
        }
    }

    /**
     * Milliseconds per forward pass without per-node timing, best of {@code runs} after two
     * warm-ups (on a GPU the first sizes buffers, the second records the CUDA graph).
     */
    public double forwardMillis(int runs) {
        Map<String, Tensor> inputs = forwardInputs != null ? forwardInputs : zeroInputs();
        ModelPlans.Plan plan = defaultPlan();
        Execution e = plan.acquire();
        try {
            e.run(inputs);
            e.run(inputs);
            double best = Double.POSITIVE_INFINITY;
            for (int i = 0; i < runs; i++) {
                long t0 = System.nanoTime();
                e.run(inputs);
                best = Math.min(best, (System.nanoTime() - t0) / 1e6);
            }
            return best;
        } finally {
            plan.release(e);
        }
    }

    private Map<String, Tensor> zeroInputs() {
        Map<String, Tensor> m = new LinkedHashMap<>();
        defaultPlan().graph().optimizedGraph().inputs()
                .forEach((name, v) -> m.put(name, Tensor.zeros(v.dtype(), v.shape())));
        return m;
    }

    private PipelineSettings.Sampling sampling() {
        PipelineSettings.Sampling s = settings.sampling();
        if (s == null) {
            throw new IllegalStateException("pipeline '" + settings.name() + "' is a forward pipeline; it does not sample");
        }
        return s;
    }

    /** The model's contract; sampling pipelines have one (the assembler checked it). */
    private ModelContract contract() {
        sampling();
        return contract;
    }

    /** The spacing a request asks for: its own, else {@code "N"} for its (or the pipeline's) step count. */
    private static String spacing(SampleRequest r, PipelineSettings.Sampling s) {
        if (r.spacing() != null) {
            return r.spacing();
        }
        if (r.steps() > 0) {
            return Integer.toString(r.steps());
        }
        return s.spacing() != null ? s.spacing() : Integer.toString(s.steps());
    }

    /**
     * The pipeline's training process (all T steps, unspaced), for the diffusion core's
     * quantities: q(x_t | x_0), the posterior, p_mean_variance, losses and the bound.
     */
    public GaussianDiffusion diffusion() {
        PipelineSettings.Sampling s = sampling();
        return new GaussianDiffusion(SamplerFactory.trainingSchedule(s), contract().prediction(), contract.variance(),
                device.host().elementwise());
    }

    /**
     * The network as a {@link DenoisingModel} for batches of {@code batch} (x [batch, C, H, W], the
     * timesteps, the class labels), without guidance. Its output is a buffer valid until its next call.
     * One caller at a time; close the returned handle to give the execution back.
     */
    public Denoiser denoiser(int batch) {
        Map<String, int[]> shapes = shapesFor(batch);
        ModelPlans.Plan plan = plans.plan(shapes);
        return new Denoiser(plan, plan.acquire(), contract());
    }

    private Map<String, int[]> shapesFor(int batch) {
        Map<String, int[]> shapes = new LinkedHashMap<>();
        inputShapes.forEach((k, v) -> {
            int[] s = v.clone();
            s[0] = batch;
            shapes.put(k, s);
        });
        return shapes;
    }

    /** A network bound to one execution of a plan; see {@link #denoiser}. */
    public static final class Denoiser implements DenoisingModel, AutoCloseable {
        private final ModelPlans.Plan plan;
        private final Execution execution;
        private final ModelContract contract;
        private final Map<String, Tensor> in = new LinkedHashMap<>();
        private boolean closed;

        Denoiser(ModelPlans.Plan plan, Execution execution, ModelContract contract) {
            this.plan = plan;
            this.execution = execution;
            this.contract = contract;
        }

        @Override
        public Tensor predict(Tensor xt, Tensor timesteps, Tensor conditioning) {
            if (closed) {
                throw new IllegalStateException("this denoiser is closed");
            }
            in.put(contract.latent(), xt);
            in.put(contract.timestep(), timesteps);
            if (contract.label() != null) {
                if (conditioning == null) {
                    throw new IllegalArgumentException("the model takes class labels ('" + contract.label() + "'); none given");
                }
                in.put(contract.label(), conditioning);
            }
            return execution.run(in).get("out");
        }

        @Override
        public void close() {
            if (!closed) {
                closed = true;
                plan.release(execution);
            }
        }
    }

    /** Samples as the pipeline's settings say, with whatever {@code r} overrides. */
    public SampleResult sample(SampleRequest r, StepCallback callback) {
        PipelineSettings.Sampling s = sampling();
        long[] classes = r.classes() != null ? r.classes() : s.classes();
        double scale = Double.isNaN(r.guidanceScale()) ? s.guidanceScale() : r.guidanceScale();
        double eta = Double.isNaN(r.eta()) ? s.eta() : r.eta();
        boolean guided = PipelineAssembler.guided(scale);
        int batch = classes.length;
        for (long c : classes) {
            if (c < 0 || numClasses > 0 && c >= numClasses) {
                throw new IllegalArgumentException("class " + c + " is outside 0.." + (numClasses - 1) + " of " + modelName);
            }
        }
        GaussianDiffusion diffusion;
        try {
            diffusion = SamplerFactory.diffusion(s, spacing(r, s), contract(), device.host());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("spacing '" + spacing(r, s) + "': " + e.getMessage(), e);
        }
        Sampler sampler = SamplerFactory.sampler(s, eta, diffusion, device.host());
        int[] xShape = inputShapes.get(contract.latent()).clone();
        xShape[0] = batch;
        if (r.startNoise() != null && !java.util.Arrays.equals(r.startNoise().shape(), xShape)) {
            throw new IllegalArgumentException("the starting noise x_T is " + java.util.Arrays.toString(r.startNoise().shape())
                    + "; this request samples " + java.util.Arrays.toString(xShape));
        }
        try (Denoiser net = denoiser(PipelineAssembler.modelBatch(batch, scale))) {
            Tensor labels = contract.label() == null ? null : Tensor.ofLongs(Arena.ofAuto(), classes, batch);
            DenoisingModel model = net;
            if (guided) {
                if (contract.label() == null || contract.nullLabel() == null) {
                    throw new IllegalArgumentException("guidance needs a model with a label and a null_label in its contract;"
                            + " " + modelName + " has " + (contract.label() == null ? "no label" : "no null_label")
                            + " (use guidance = none)");
                }
                if (contract.splitAxis() != 1) {
                    throw new IllegalArgumentException("guidance along axis " + contract.splitAxis()
                            + " is not supported yet (axis 1 is)");
                }
                Tensor nullLabel = Tensor.ofLongs(Arena.ofAuto(), new long[] {contract.nullLabel()}, 1);
                model = new ClassifierFreeGuidance(net, scale, nullLabel,
                        s.guidanceForm().equals("dit") ? ClassifierFreeGuidance.Channels.DIT_FIRST_THREE
                                : ClassifierFreeGuidance.Channels.EPSILON, device.host().elementwise());
            }
            Tensor x = r.startNoise() != null ? sampler.sample(model, r.startNoise(), labels, r.seed(), callback)
                    : sampler.sample(model, xShape, labels, r.seed(), callback);
            int[] timesteps = new int[diffusion.steps()];
            for (int i = 0; i < timesteps.length; i++) {
                timesteps[i] = diffusion.schedule().modelTimestep(timesteps.length - 1 - i);
            }
            return new SampleResult(x, classes, r.seed(), timesteps, guided ? scale : 1.0);
        }
    }

    /** Runs the pipeline as its script says and writes its outputs under {@code outDir}. */
    public List<Path> execute(Path outDir, long seed, StepCallback callback) throws IOException {
        Map<String, Tensor> results = new LinkedHashMap<>();
        if (isSampling()) {
            results.put("samples", sample(SampleRequest.seed(seed), callback).samples());
        } else {
            results.putAll(runForward());
        }
        return OutputWriter.write(settings.outputs(), results, outDir, Map.of("pipeline", settings.name(),
                "model", modelName, "seed", Long.toString(seed)));
    }

    @Override
    public void close() {
        try {
            onClose.run();
        } finally {
            arena.close();
        }
    }
}
