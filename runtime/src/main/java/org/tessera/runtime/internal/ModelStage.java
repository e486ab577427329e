package org.tessera.runtime.internal;

import java.lang.foreign.Arena;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tessera.dsl.ModelContract;
import org.tessera.dsl.SamplerDefinition;
import org.tessera.dsl.pipeline.PipelineSettings;
import org.tessera.engine.device.ComputeDevice;
import org.tessera.engine.diffusion.ClassifierFreeGuidance;
import org.tessera.engine.diffusion.ContextFrames;
import org.tessera.engine.diffusion.DenoisingModel;
import org.tessera.engine.diffusion.FlowSchedule;
import org.tessera.engine.diffusion.GaussianDiffusion;
import org.tessera.engine.diffusion.StepCallback;
import org.tessera.engine.diffusion.X0Processing;
import org.tessera.engine.graph.Execution;
import org.tessera.engine.graph.Profile;
import org.tessera.engine.tensor.Tensor;
import org.tessera.runtime.SampleRequest;
import org.tessera.runtime.SampleResult;

/**
 * One model stage of a pipeline, ready to run: its weights and plans on the pipeline's device,
 * and what its settings say — one forward pass on loaded inputs, or sampling.
 */
public final class ModelStage implements AutoCloseable {
    private final String name;
    private final PipelineSettings.Sampling sampling;
    private final List<String> conditionStages;
    private final SamplerDefinition sampler;
    /**
     * Idle scripted samplers (with their compiled step plans and buffers) by sampler, spacing and
     * clipping, least recently used first; guarded by itself.
     */
    private final java.util.LinkedHashMap<String, java.util.ArrayDeque<ScriptedSampler>> samplers =
            new java.util.LinkedHashMap<>(16, 0.75f, true);

    private boolean closed;
    private final String modelName;
    private final ModelContract contract;
    private final ComputeDevice device;
    private final ModelPlans plans;
    private final List<String> inputNames;
    private final Map<String, int[]> inputShapes;
    private final Map<String, Tensor> forwardInputs;
    private final long numClasses;
    /** The script's {@code noise = load(...)}: x_T when a request gives none and keeps the script's batch. */
    private final Tensor startNoise;
    /** The clips a model with context frames continues ({@code context = ...}), or null. */
    private final PipelineAssembler.ContextClips contextClips;

    private final Arena arena;
    private final Runnable onClose;

    ModelStage(
            String name,
            PipelineSettings.Sampling sampling,
            SamplerDefinition sampler,
            List<String> conditionStages,
            String modelName,
            ModelContract contract,
            ComputeDevice device,
            ModelPlans plans,
            List<String> inputNames,
            Map<String, int[]> inputShapes,
            Map<String, Tensor> forwardInputs,
            Tensor startNoise,
            PipelineAssembler.ContextClips contextClips,
            long numClasses,
            Arena arena,
            Runnable onClose) {
        this.name = name;
        this.sampling = sampling;
        this.sampler = sampler;
        this.conditionStages = List.copyOf(conditionStages);
        this.modelName = modelName;
        this.contract = contract;
        this.device = device;
        this.plans = plans;
        this.inputNames = List.copyOf(inputNames);
        this.inputShapes = inputShapes;
        this.forwardInputs = forwardInputs;
        this.numClasses = numClasses;
        this.startNoise = startNoise;
        this.contextClips = contextClips;
        this.arena = arena;
        this.onClose = onClose;
    }

    /** The stage's name: its result's name in the pipeline. */
    public String name() {
        return name;
    }

    /** The stages whose results feed the model's condition inputs, in the contract's order. */
    public List<String> conditionStages() {
        return conditionStages;
    }

    /** The sampler as the script calls it, e.g. {@code ddim(steps = 50)}; null for a forward stage. */
    public String samplerDescription() {
        return sampler == null ? null : sampler.describe();
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
        return sampling != null;
    }

    /** One forward pass at the inputs' own shapes (a plan is compiled for new shapes). */
    public Map<String, Tensor> forward(Map<String, Tensor> inputs) {
        Map<String, int[]> shapes = new LinkedHashMap<>();
        for (String name : inputNames) {
            Tensor t = inputs.get(name);
            if (t == null) {
                throw new IllegalArgumentException(
                        "forward input '" + name + "' is missing (inputs: " + String.join(", ", inputNames) + ")");
            }
            shapes.put(name, t.shape());
        }
        for (String name : inputs.keySet()) {
            if (!inputNames.contains(name)) {
                throw new IllegalArgumentException("'" + name + "' is not a forward input of " + modelName
                        + " (inputs: " + String.join(", ", inputNames) + ")");
            }
        }
        return plans.plan(shapes).run(inputs);
    }

    /** The forward pass on the pipeline's own {@code inputs}, with the inputs among the results. */
    public Map<String, Tensor> runForward() {
        if (forwardInputs == null) {
            throw new IllegalStateException("stage '" + name + "' samples; it has no forward inputs");
        }
        Map<String, Tensor> result = new LinkedHashMap<>();
        forwardInputs.forEach((k, v) -> result.put(k, ModelPlans.copy(v))); // the caller's, not the stage's
        result.putAll(forward(forwardInputs));
        return result;
    }

    /** Profiles {@code runs} forward passes after two warm-ups (the JIT compiles kernels during the first). */
    public Profile profile(int runs) {
        return warm((e, inputs) -> {
            Profile p = new Profile();
            for (int i = 0; i < runs; i++) {
                e.run(inputs, p);
            }
            return p;
        });
    }

    /**
     * Milliseconds per forward pass without per-node timing, best of {@code runs} after two
     * warm-ups (on a GPU the first sizes buffers, the second records the CUDA graph).
     */
    public double forwardMillis(int runs) {
        return warm((e, inputs) -> {
            double best = Double.POSITIVE_INFINITY;
            for (int i = 0; i < runs; i++) {
                long t0 = System.nanoTime();
                e.run(inputs);
                best = Math.min(best, (System.nanoTime() - t0) / 1e6);
            }
            return best;
        });
    }

    /** {@code timed} on an execution of the default plan after two warm-up runs, on the stage's inputs or zeros. */
    private <T> T warm(java.util.function.BiFunction<Execution, Map<String, Tensor>, T> timed) {
        Map<String, Tensor> inputs = forwardInputs != null ? forwardInputs : zeroInputs();
        ModelPlans.Plan plan = defaultPlan();
        Execution e = plan.acquire();
        try {
            e.run(inputs);
            e.run(inputs);
            return timed.apply(e, inputs);
        } finally {
            plan.release(e);
        }
    }

    private Map<String, Tensor> zeroInputs() {
        Map<String, Tensor> m = new LinkedHashMap<>();
        defaultPlan()
                .graph()
                .optimizedGraph()
                .inputs()
                .forEach((name, v) -> m.put(name, Tensor.zeros(v.dtype(), v.shape())));
        return m;
    }

    private PipelineSettings.Sampling sampling() {
        if (sampling == null) {
            throw new IllegalStateException("stage '" + name + "' runs one forward pass; it does not sample");
        }
        return sampling;
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
        return new GaussianDiffusion(
                SamplerFactory.trainingSchedule(s),
                contract().prediction().parameterization(),
                contract.variance(),
                device.host().elementwise());
    }

    /**
     * The network as a {@link DenoisingModel} for batches of {@code batch} (x [batch, C, H, W], the
     * timesteps, the class labels), without guidance. Its output is a buffer valid until its next call.
     * One caller at a time; close the returned handle to give the execution back.
     */
    public Denoiser denoiser(int batch) {
        return denoiser(batch, Map.of());
    }

    /**
     * {@link #denoiser(int)} with the model's condition inputs fixed to {@code conditions} (by
     * input name), each of the model batch.
     */
    Denoiser denoiser(int batch, Map<String, Tensor> conditions) {
        if (contract().packing() != null) {
            throw new IllegalArgumentException(modelName + " is a packed model: its rows are made per batch of"
                    + " sizes (sample it with sizes = [[H, W], ...]); it has no denoiser of a plain batch");
        }
        Map<String, int[]> shapes = new LinkedHashMap<>();
        inputShapes.forEach((k, v) -> {
            int[] s = v.clone();
            s[0] = batch;
            shapes.put(k, conditions.containsKey(k) ? conditions.get(k).shape() : s);
        });
        for (String c : contract().conditions()) {
            if (!conditions.containsKey(c)) {
                throw new IllegalArgumentException(modelName + " is conditioned on '" + c
                        + "'; this call gives it nothing" + " (a stage gives it with condition = <stage>)");
            }
        }
        ModelPlans.Plan plan = plans.plan(shapes);
        return new Denoiser(plan, plan.acquire(), contract, conditions);
    }

    /** A network bound to one execution of a plan; see {@link #denoiser}. */
    public static final class Denoiser implements DenoisingModel, AutoCloseable {
        private final ModelPlans.Plan plan;
        private final Execution execution;
        private final ModelContract contract;
        private final Map<String, Tensor> in = new LinkedHashMap<>();
        private boolean closed;

        Denoiser(ModelPlans.Plan plan, Execution execution, ModelContract contract, Map<String, Tensor> conditions) {
            this.plan = plan;
            this.execution = execution;
            this.contract = contract;
            in.putAll(conditions);
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
                    throw new IllegalArgumentException(
                            "the model takes class labels ('" + contract.label() + "'); none given");
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

    /** Samples as the stage's settings say, with whatever {@code r} overrides. */
    public SampleResult sample(SampleRequest r, StepCallback callback) {
        return sample(r, List.of(), callback);
    }

    /**
     * {@link #sample(SampleRequest, StepCallback)} with the results of the stages this one is
     * conditioned on, in {@link #conditionStages()} order, each [samples, …].
     */
    public SampleResult sample(SampleRequest r, List<Tensor> conditionValues, StepCallback callback) {
        return sample(r, conditionValues, null, 1.0, callback);
    }

    /**
     * {@link #sample(SampleRequest, List, StepCallback)} from {@code init} (img2img) when it is not
     * null: of the sampler's steps only the last ⌊steps·strength⌋ run, from init noised to the
     * first of them, x = √ᾱ·init + √(1 − ᾱ)·ε (a flow: (1 − σ)·init + σ·ε), as diffusers' img2img
     * pipelines do. An init of batch 1 serves every class.
     */
    public SampleResult sample(
            SampleRequest r, List<Tensor> conditionValues, Tensor init, double strength, StepCallback callback) {
        if (init != null && !(strength > 0 && strength <= 1)) {
            throw new IllegalArgumentException("stage '" + name + "': strength must be in (0, 1], got " + strength);
        }
        PipelineSettings.Sampling s = sampling();
        long[] classes = r.classes() != null ? r.classes() : s.classes();
        if (contextClips != null && contextClips.classes() != null) {
            if (classes.length != contextClips.classes().length) {
                throw new IllegalArgumentException("stage '" + name + "' continues " + contextClips.classes().length
                        + " clips of its data set, each for its own class; " + classes.length + " classes were asked");
            }
            classes = contextClips.classes();
        }
        double scale = Double.isNaN(r.guidanceScale()) ? s.guidanceScale() : r.guidanceScale();
        SamplerDefinition steps = Double.isNaN(r.eta()) ? sampler : sampler.withArgument("eta", r.eta());
        boolean guided = PipelineAssembler.guided(scale);
        int batch = classes.length;
        for (long c : classes) {
            if (c < 0 || numClasses > 0 && c >= numClasses) {
                throw new IllegalArgumentException(
                        "class " + c + " is outside 0.." + (numClasses - 1) + " of " + modelName);
            }
        }
        Process steps0 = process(r, s);
        StepProcess process = steps0.process();
        String processKey = steps0.key();
        if (contract.packing() != null) {
            if (init != null || !conditionValues.isEmpty()) {
                throw new IllegalArgumentException("stage '" + name + "': a packed model samples from noise and"
                        + " class labels only (no init, no condition stages) as yet");
            }
            return samplePacked(r, classes, scale, steps, process, processKey, callback);
        }
        int[] xShape = inputShapes.get(contract.latent()).clone();
        xShape[0] = batch;
        if (r.startNoise() != null && !java.util.Arrays.equals(r.startNoise().shape(), xShape)) {
            throw new IllegalArgumentException("the starting noise x_T is "
                    + java.util.Arrays.toString(r.startNoise().shape()) + "; this request samples "
                    + java.util.Arrays.toString(xShape));
        }
        if (guided) {
            String why = PipelineAssembler.cannotGuide(contract());
            if (why != null) {
                throw new IllegalArgumentException(why);
            }
        }
        int modelBatch = PipelineAssembler.modelBatch(batch, scale);
        Map<String, Tensor> conditions = new LinkedHashMap<>();
        List<String> condInputs = contract().conditions();
        if (conditionValues.size() != condInputs.size()) {
            throw new IllegalArgumentException(modelName + " takes " + condInputs.size() + " condition input(s) "
                    + condInputs + " but " + conditionValues.size() + " were given");
        }
        for (int i = 0; i < condInputs.size(); i++) {
            Tensor c = conditionValues.get(i);
            if (c.rank() < 1 || c.size(0) != batch) {
                throw new IllegalArgumentException("condition '" + condInputs.get(i) + "' of stage '" + name + "' has "
                        + java.util.Arrays.toString(c.shape()) + "; it needs a batch of " + batch);
            }
            // Guidance runs the conditional and unconditional halves in one batch: both see the condition.
            conditions.put(condInputs.get(i), guided ? repeatBatch(c, modelBatch / batch) : c);
        }
        PipelineSettings.Context continuation = s.context() != null
                ? s.context()
                : new PipelineSettings.Context(null, null, 0, 1, 0, s.span()); // from noise alone: S = 0
        Tensor context = null;
        if (contract.context() != null) {
            int[] shape = xShape.clone();
            shape[0] = modelBatch;
            shape[2]++; // the mask channel
            // zeros: no context frames, which is also what guidance's unconditional half is given
            context = Tensor.zeros(org.tessera.engine.tensor.DType.F32, shape);
            conditions.put(contract.context(), context);
        }
        try (Denoiser net = denoiser(modelBatch, conditions)) {
            Tensor labels = contract.label() == null ? null : Tensor.ofLongs(Arena.ofAuto(), classes, batch);
            DenoisingModel model = net;
            if (guided) {
                model = guide(net, scale, s);
            }
            String key = steps.describe() + "|" + processKey;
            ScriptedSampler run = acquireSampler(key, steps, process);
            Tensor x;
            int first = 0; // img2img: the steps before this are skipped
            try {
                Tensor xT = r.startNoise() != null
                        ? r.startNoise()
                        : startNoise != null && startNoise.size(0) == batch ? startNoise : null;
                if (init != null) {
                    int total = process.steps();
                    first = total - Math.min(total, (int) (total * strength));
                    if (first == total) {
                        throw new IllegalArgumentException("stage '" + name + "': strength " + strength + " of " + total
                                + " steps runs none; raise it or the steps");
                    }
                    xT = noisedInit(init, xShape, xT, r.seed(), process, first);
                }
                x = context == null
                        ? run.sample(model, xShape, xT, labels, r.seed(), callback, first)
                        : sampleWithContext(
                                run, model, xShape, xT, labels, r.seed(), callback, first, context, continuation);
            } finally {
                releaseSampler(key, run);
            }
            int[] timesteps = new int[process.steps() - first]; // the steps that ran
            for (int i = 0; i < timesteps.length; i++) {
                timesteps[i] = process.timestep(first + i);
            }
            return new SampleResult(x, classes, r.seed(), timesteps, guided ? scale : 1.0);
        }
    }

    /**
     * Sampling a model with context frames (Video LDM): clips of F frames one after another, each
     * given some frames clean, joined into one video.
     *
     * <p>Prediction ({@code segments = n}): the first clip is given the last S frames of the
     * stage's context clips (none without them), each further one the last S frames of the one
     * before; the video keeps the first clip whole and the F − S new frames of each further one.
     * (A further clip's given frames are the clip before's, already in the video.)
     *
     * <p>Interpolation ({@code interpolate = s}): the keyframes are every s-th frame of the context
     * clips; the clip between keyframes w and w + 1 is given them as its first and last frames,
     * and the video keeps the first clip whole and the F − 1 frames after the first of each
     * further one: (K − 1)·(F − 1) + 1 frames for K keyframes. Frames after the last keyframe are
     * left out.
     *
     * <p>Frames given from the context clips replace the model's copies of them in the result.
     * img2img ({@code first} > 0) applies to the first clip.
     *
     * <p>Clip k > 0 draws its x_T from the seed + k·0x9E3779B97F4A7C15. The context's rows past
     * the batch (guidance's unconditional half) stay zero: no frames given.
     */
    private Tensor sampleWithContext(
            ScriptedSampler run,
            DenoisingModel model,
            int[] xShape,
            Tensor xT,
            Tensor labels,
            long seed,
            StepCallback callback,
            int first,
            Tensor context,
            PipelineSettings.Context c) {
        int batch = xShape[0];
        int frames = xShape[1];
        Tensor clips = null;
        if (contextClips != null) {
            clips = contextClips.clips();
            if (clips.size(0) != batch && clips.size(0) != 1) {
                throw new IllegalArgumentException("stage '" + name + "' continues " + clips.size(0) + " clips; "
                        + batch + " samples were asked (give one clip for all, or one per sample)");
            }
            clips = clips.size(0) == batch ? clips : repeatBatch(clips, batch);
        }
        boolean between = c.interpolate() > 0;
        int stride = c.interpolate();
        int given = c.frames();
        int pieces = between ? (clips.size(1) - 1) / stride : c.segments();
        int kept = between ? frames - 1 : frames - given; // the frames each clip after the first adds
        int[] videoShape = xShape.clone();
        videoShape[1] = frames + (pieces - 1) * kept;
        Tensor video = pieces == 1 ? null : Tensor.zeros(org.tessera.engine.tensor.DType.F32, videoShape);
        Tensor rows = context.slice(0, 0, batch);
        int[][] maps = new int[batch][];
        Tensor x = null;
        for (int k = 0; k < pieces; k++) {
            int[] map = between
                    ? ContextFrames.ends(frames, k * stride, (k + 1) * stride)
                    : k > 0
                            ? ContextFrames.leading(frames, frames - given, given)
                            : clips == null
                                    ? ContextFrames.leading(frames, 0, 0)
                                    : ContextFrames.leading(frames, clips.size(1) - given, given);
            java.util.Arrays.fill(maps, map);
            ContextFrames.fill(between || k == 0 ? clips : x, maps, rows);
            if (pieces > 1) {
                callback.onSegment(k, pieces);
            }
            long pieceSeed = k == 0 ? seed : seed + k * 0x9E3779B97F4A7C15L; // a clip's own noise
            x = run.sample(model, xShape, k == 0 ? xT : null, labels, pieceSeed, callback, k == 0 ? first : 0);
            // The frames given stay as they were given (the model's copies of them would differ a
            // little): so a video keeps its keyframes, and a continuation the clip it continues.
            keepGiven(between || k == 0 ? clips : null, map, x);
            if (video != null) {
                int start = k == 0 ? 0 : frames + (k - 1) * kept;
                video.slice(1, start, start + (k == 0 ? frames : kept))
                        .copyFrom(k == 0 ? x : x.slice(1, frames - kept, frames));
            }
        }
        return video != null ? video : x;
    }

    /** Writes frame {@code map[f]} of {@code clips} over frame f of {@code x} wherever one is given. */
    private static void keepGiven(Tensor clips, int[] map, Tensor x) {
        if (clips == null) {
            return;
        }
        for (int f = 0; f < map.length; f++) {
            if (map[f] != ContextFrames.GENERATED) {
                x.slice(1, f, f + 1).copyFrom(clips.slice(1, map[f], map[f] + 1));
            }
        }
    }

    /**
     * Sampling a packed model (Patch n' Pack): samples of the sizes the script gives, one class
     * each, packed into rows; one sampler runs over the rows, each model call one forward of the
     * whole mix, and the rows are cut back into samples at the end (a batch padded to the largest
     * with −1; {@link SampleResult#sizes()} gives each one's own size). x_T is each sample's own
     * noise (see {@link PackedBatch#startNoise}), unless the request gives the packed rows'.
     */
    private SampleResult samplePacked(
            SampleRequest r,
            long[] classes,
            double scale,
            SamplerDefinition steps,
            StepProcess process,
            String processKey,
            StepCallback callback) {
        PipelineSettings.Sampling s = sampling();
        List<int[]> sizes = new java.util.ArrayList<>(List.of(s.sizes()));
        int n = Math.max(classes.length, sizes.size());
        if (classes.length != n && classes.length != 1 || sizes.size() != n && sizes.size() != 1) {
            throw new IllegalArgumentException("stage '" + name + "': " + classes.length + " classes for "
                    + sizes.size() + " sizes; give one size per class, one size for all, or one class for all");
        }
        long[] perSample = new long[n];
        while (sizes.size() < n) {
            sizes.add(sizes.getFirst());
        }
        for (int e = 0; e < n; e++) {
            perSample[e] = classes[classes.length == 1 ? 0 : e];
        }
        ModelContract.Packing packing = contract.packing();
        int p = packing.patch();
        int[] tokens = inputShapes.get(contract.latent());
        PackedBatch batch = PackedBatch.of(packing, tokens[tokens.length - 1] / (p * p), sizes, s.pack(), name);
        boolean guided = PipelineAssembler.guided(scale);
        if (guided && PipelineAssembler.cannotGuide(contract) != null) {
            throw new IllegalArgumentException(PipelineAssembler.cannotGuide(contract));
        }
        int copies = guided ? 2 : 1;
        int[] xShape = batch.latentShape();
        if (r.startNoise() != null && !java.util.Arrays.equals(r.startNoise().shape(), xShape)) {
            throw new IllegalArgumentException("the starting noise x_T is "
                    + java.util.Arrays.toString(r.startNoise().shape()) + "; these samples pack into rows "
                    + java.util.Arrays.toString(xShape));
        }
        Map<String, Tensor> packingInputs = batch.inputs(copies, positionWidth());
        Map<String, int[]> shapes = new LinkedHashMap<>();
        for (String in : inputNames) {
            int[] shape;
            if (in.equals(contract.latent())) {
                shape = new int[] {copies * xShape[0], xShape[1], xShape[2] * xShape[3]};
            } else if (in.equals(contract.timestep()) || in.equals(contract.label())) {
                shape = new int[] {copies * n};
            } else {
                shape = packingInputs.get(in).shape();
            }
            shapes.put(in, shape);
        }
        ModelPlans.Plan plan = plans.plan(shapes);
        try (PackedDenoiser net = new PackedDenoiser(plan, contract, batch, copies, packingInputs)) {
            Tensor labels = contract.label() == null ? null : Tensor.ofLongs(Arena.ofAuto(), perSample, n);
            DenoisingModel model = guided ? guide(net, scale, s) : net;
            String key = steps.describe() + "|" + processKey;
            ScriptedSampler run = acquireSampler(key, steps, process);
            Tensor x;
            try {
                Tensor xT = r.startNoise() != null
                        ? r.startNoise()
                        : batch.startNoise(r.seed(), device.host().pool());
                x = run.sample(model, xShape, xT, labels, r.seed(), callback, 0);
            } finally {
                releaseSampler(key, run);
            }
            int[] timesteps = new int[process.steps()];
            for (int i = 0; i < timesteps.length; i++) {
                timesteps[i] = process.timestep(i);
            }
            return new SampleResult(
                    batch.unpack(x, -1f), perSample, r.seed(), timesteps, guided ? scale : 1.0, batch.sampleSizes());
        }
    }

    /** The width of a packed model's sin-cos position input (0 when it takes other positions). */
    private int positionWidth() {
        if (contract.packing().positions() instanceof ModelContract.Positions.SinCos sc) {
            int[] shape = inputShapes.get(sc.input());
            return shape[shape.length - 1];
        }
        return 0;
    }

    /** The step process a request samples on, and the key its scripted samplers are kept under. */
    private record Process(StepProcess process, String key) {}

    private Process process(SampleRequest r, PipelineSettings.Sampling s) {
        StepProcess process;
        String processKey;
        if (s.isFlow()) {
            if (r.spacing() != null) {
                throw new IllegalArgumentException(
                        "a flow schedule places its levels itself (spacing '" + r.spacing() + "'); give steps");
            }
            int n = r.steps() > 0 ? r.steps() : s.steps();
            process = new StepProcess.Flow(
                    FlowSchedule.of(s.scheduleSteps(), n, s.shift()), device.host(), s.scheduleSteps());
            processKey = "flow" + n + "/" + s.shift();
        } else {
            GaussianDiffusion diffusion;
            try {
                diffusion = SamplerFactory.diffusion(s, spacing(r, s), contract(), device.host());
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("spacing '" + spacing(r, s) + "': " + e.getMessage(), e);
            }
            process = new StepProcess.Diffusion(diffusion, s.clipX0() ? X0Processing.clip() : X0Processing.none());
            processKey = spacing(r, s) + "|" + s.clipX0();
        }
        return new Process(process, processKey);
    }

    /** {@code net} under classifier-free guidance at {@code scale}, in the script's form. */
    private DenoisingModel guide(DenoisingModel net, double scale, PipelineSettings.Sampling s) {
        Tensor nullLabel = Tensor.ofLongs(Arena.ofAuto(), new long[] {contract.nullLabel()}, 1);
        return new ClassifierFreeGuidance(
                net,
                scale,
                nullLabel,
                switch (s.guidanceForm()) {
                    case "dit" -> ClassifierFreeGuidance.Channels.DIT_FIRST_THREE;
                    case "latte" -> ClassifierFreeGuidance.Channels.LATTE_FIRST_FOUR;
                    default -> ClassifierFreeGuidance.Channels.EPSILON;
                },
                contract.splitAxis(),
                device.host().elementwise());
    }

    /**
     * img2img's start: {@code init} (its batch of 1 repeated when the request samples more) noised
     * to step {@code first} with the request's starting noise (x_T given, else drawn from the seed
     * as the sampler would draw it).
     */
    private Tensor noisedInit(Tensor init, int[] xShape, Tensor xT, long seed, StepProcess process, int first) {
        int[] one = xShape.clone();
        one[0] = 1;
        boolean repeat = init.size(0) == 1 && xShape[0] > 1;
        if (!java.util.Arrays.equals(init.shape(), xShape) && !(repeat && java.util.Arrays.equals(init.shape(), one))) {
            throw new IllegalArgumentException(
                    "stage '" + name + "': init is " + java.util.Arrays.toString(init.shape())
                            + "; sampling here starts from " + java.util.Arrays.toString(xShape)
                            + " (an init of batch 1 is repeated for every class)");
        }
        Tensor x0 = repeat ? repeatBatch(init, xShape[0]) : init;
        Tensor noise = Tensor.zeros(org.tessera.engine.tensor.DType.F32, xShape);
        if (xT != null) {
            noise.copyFrom(xT);
        } else {
            new org.tessera.engine.random.RandomStream(seed, 0)
                    .fillNormal(noise, device.host().pool());
        }
        Tensor out = Tensor.zeros(org.tessera.engine.tensor.DType.F32, xShape);
        process.noise(x0.isContiguous() ? x0 : x0.contiguous(), noise, first, out);
        return out;
    }

    /** How many sampler settings (sampler, η, spacing, …) keep their step plans and buffers. */
    private static final int KEPT_SAMPLERS = 8;

    /**
     * An idle scripted sampler for {@code key}, or a new one (its step plans compile as it first
     * runs). The settings used least recently are dropped past {@link #KEPT_SAMPLERS}, so that
     * requests with ever new η or step counts do not grow the pipeline without bound.
     */
    private ScriptedSampler acquireSampler(String key, SamplerDefinition steps, StepProcess process) {
        synchronized (samplers) {
            java.util.ArrayDeque<ScriptedSampler> idle =
                    samplers.computeIfAbsent(key, k -> new java.util.ArrayDeque<>());
            ScriptedSampler s = idle.poll();
            if (s != null) {
                return s;
            }
        }
        return new ScriptedSampler(steps, process, device.host());
    }

    /** Gives {@code s} back as idle under {@code key}, closing what falls out of the bound. */
    private void releaseSampler(String key, ScriptedSampler s) {
        List<ScriptedSampler> dropped = new java.util.ArrayList<>();
        synchronized (samplers) {
            if (closed) {
                dropped.add(s);
            } else {
                samplers.computeIfAbsent(key, k -> new java.util.ArrayDeque<>()).add(s);
                while (samplers.size() > KEPT_SAMPLERS) {
                    var eldest = samplers.entrySet().iterator().next();
                    dropped.addAll(eldest.getValue());
                    samplers.remove(eldest.getKey());
                }
            }
        }
        dropped.forEach(ScriptedSampler::close);
    }

    /** {@code c} [n, …] stacked {@code times} along the batch: [c; c; …]. */
    private static Tensor repeatBatch(Tensor c, int times) {
        int[] shape = c.shape();
        int n = shape[0];
        shape[0] = n * times;
        Tensor out = Tensor.zeros(c.dtype(), shape);
        for (int i = 0; i < times; i++) {
            out.slice(0, i * n, (i + 1) * n).copyFrom(c);
        }
        return out;
    }

    @Override
    public void close() {
        List<ScriptedSampler> idle = new java.util.ArrayList<>();
        synchronized (samplers) {
            closed = true;
            samplers.values().forEach(idle::addAll);
            samplers.clear();
        }
        try {
            for (ScriptedSampler s : idle) {
                try {
                    s.close();
                } catch (RuntimeException e) {
                    System.err.println("tessera: warning: while releasing a sampler's plans: " + e.getMessage());
                }
            }
            onClose.run();
        } finally {
            arena.close();
        }
    }
}
