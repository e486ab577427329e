package org.tessera.runtime.internal;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tessera.dsl.ModelContract;
import org.tessera.dsl.ModelDefinition;
import org.tessera.dsl.ModelInput;
import org.tessera.dsl.PipelineDefinition;
import org.tessera.dsl.pipeline.PipelineSettings;
import org.tessera.engine.device.ComputeDevice;
import org.tessera.engine.device.DeviceChoice;
import org.tessera.engine.device.DeviceUnavailableException;
import org.tessera.engine.device.Devices;
import org.tessera.engine.device.MemoryBudget;
import org.tessera.engine.device.Precision;
import org.tessera.engine.diffusion.ClassifierFreeGuidance;
import org.tessera.engine.graph.GraphBuilder;
import org.tessera.engine.graph.MemoryEstimate;
import org.tessera.engine.graph.Planner;
import org.tessera.engine.graph.Value;
import org.tessera.engine.io.KeyAliases;
import org.tessera.engine.io.SafetensorsReader;
import org.tessera.engine.io.WeightBinding;
import org.tessera.engine.io.WeightFile;
import org.tessera.engine.io.WeightsFormatException;
import org.tessera.engine.tensor.ByteSizes;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.ShapeMismatchException;
import org.tessera.engine.tensor.Tensor;

/**
 * Turns a checked pipeline into a runnable one: opens the device, binds the weights (checked
 * against the model first), loads a forward pipeline's inputs and compiles the plan for the
 * pipeline's own shapes. Every failure releases what was opened.
 */
public final class PipelineAssembler {
    private PipelineAssembler() {}

    public static CompiledPipeline assemble(
            PipelineDefinition def, DeviceChoice deviceChoice, Precision precision, int threads) {
        PipelineSettings settings = def.settings();
        for (PipelineSettings.Stage st : settings.stages()) {
            if (st instanceof PipelineSettings.TrainStage) {
                throw def.error(
                        st.span(),
                        "stage '" + st.name() + "' trains a model: run this pipeline with  tessera train "
                                + st.span().file());
            }
        }
        ComputeDevice device;
        try {
            device = Devices.open(deviceChoice, precision, threads, System.err::println);
        } catch (DeviceUnavailableException e) {
            throw def.error(settings.span(), e.getMessage());
        }
        Map<String, ModelStage> stages = new LinkedHashMap<>();
        boolean ok = false;
        try {
            for (PipelineSettings.Stage st : settings.stages()) {
                switch (st) {
                    case PipelineSettings.SampleStage s ->
                        stages.put(s.name(), stage(def, s.name(), s.weights(), s, null, device));
                    case PipelineSettings.ForwardStage f ->
                        stages.put(f.name(), stage(def, f.name(), f.weights(), null, f.inputs(), device));
                    case PipelineSettings.ApplyStage a ->
                        stages.put(a.name(), stage(def, a.name(), a.weights(), null, null, device));
                    default -> {} // tensor stages need no assembly
                }
            }
            CompiledPipeline p = new CompiledPipeline(settings, device, stages);
            ok = true;
            return p;
        } finally {
            if (!ok) {
                stages.values().forEach(PipelineAssembler::closeQuietly);
                closeQuietly(device);
            }
        }
    }

    /**
     * Refuses a plan whose weights and buffers cannot fit the memory available, before any of it
     * is allocated: the model is lowered once on shape-only placeholder weights and estimated.
     */
    private static void requireMemory(
            PipelineDefinition def,
            ModelDefinition model,
            List<String> inputNames,
            Map<String, DType> dtypes,
            Map<String, int[]> shapes) {
        GraphBuilder g = new GraphBuilder();
        List<Value> inputs = new ArrayList<>();
        for (String in : inputNames) {
            inputs.add(input(def, model, g, in, dtypes.get(in), shapes.get(in)));
        }
        g.output("out", model.lower(g, inputs, WeightBinding.placeholders()));
        MemoryEstimate e = MemoryEstimate.of(g.build());
        MemoryBudget.require(
                e.totalBytes(),
                model.span() + ": " + model.name() + " at " + describe(inputNames, shapes) + " (weights "
                        + ByteSizes.format(e.constantBytes()) + ", buffers " + ByteSizes.format(e.bufferBytes())
                        + ")");
    }

    /** A forward input of {@code model}; a shape no graph may hold (over 2^36 elements) is an error at the model. */
    private static Value input(
            PipelineDefinition def, ModelDefinition model, GraphBuilder g, String name, DType dtype, int[] shape) {
        try {
            return g.input(name, dtype, shape);
        } catch (ShapeMismatchException e) {
            throw def.error(model.span(), model.name() + ".forward input '" + name + "': " + e.getMessage());
        }
    }

    private static String describe(List<String> names, Map<String, int[]> shapes) {
        StringBuilder sb = new StringBuilder();
        for (String n : names) {
            sb.append(sb.isEmpty() ? "" : ", ").append(n).append(' ').append(java.util.Arrays.toString(shapes.get(n)));
        }
        return sb.toString();
    }

    /** One model stage: its weights bound and checked, its inputs sized, its first plan compiled. */
    private static ModelStage stage(
            PipelineDefinition def,
            String name,
            PipelineSettings.Weights weightsSetting,
            PipelineSettings.SampleStage sample,
            PipelineSettings.Inputs forward,
            ComputeDevice device) {
        ModelDefinition model = def.model(name);
        Arena arena = Arena.ofShared();
        List<Arena> weightArenas = Collections.synchronizedList(new ArrayList<>());
        List<AutoCloseable> owned = new ArrayList<>();
        boolean ok = false;
        try {
            WeightBinding.Bound weights = switch (weightsSetting) {
                case PipelineSettings.Checkpoint c -> {
                    WeightFile file;
                    try {
                        file = KeyAliases.apply(
                                WeightFile.open(c.path()), model.weightShapes().keySet());
                    } catch (IOException | WeightsFormatException e) {
                        throw def.error(c.span(), "cannot load weights: " + describe(e));
                    }
                    owned.add(file);
                    String mismatch = WeightBinding.mismatch(file, model.weightShapes(), model.name());
                    if (mismatch != null) {
                        throw def.error(c.span(), mismatch);
                    }
                    String nonFinite = WeightBinding.nonFinite(file);
                    if (nonFinite != null) {
                        throw def.error(c.span(), nonFinite);
                    }
                    yield WeightBinding.checkpoint(file, arena);
                }
                case PipelineSettings.RandomWeights r
                when r.from() != null ->
                    throw def.error(
                            r.span(),
                            "init(from = ...) starts a train stage from two weight sets; a sampling pipeline loads"
                                    + " the trained checkpoint: weights = \"file.safetensors\"");
                case PipelineSettings.RandomWeights r ->
                    r.declared()
                            ? WeightBinding.initialized(
                                    r.seed(), model.weightInits(), r.std(), device.host(), weightArenas)
                            : WeightBinding.random(r.seed(), r.std(), device.host(), weightArenas);
            };
            Map<String, Tensor> forwardInputs = forward == null ? null : loadInputs(def, forward, arena);
            Map<String, int[]> shapes = new LinkedHashMap<>();
            Map<String, DType> dtypes = new LinkedHashMap<>();
            List<ModelInput> specs;
            ModelContract contract = null;
            if (forwardInputs != null) {
                specs = model.inputs(
                        Map.of("B", forwardInputs.values().iterator().next().size(0)));
                for (ModelInput in : specs) {
                    Tensor t = forwardInputs.get(in.name());
                    if (t == null) {
                        throw def.error(
                                forward.span(), "load(...) gives no tensor for forward input '" + in.name() + "'");
                    }
                    shapes.put(in.name(), t.shape());
                    dtypes.put(in.name(), t.dtype());
                }
            } else if (sample == null) {
                // decode / encode: one input, whatever shape the earlier stage gives (planned on first use).
                specs = model.inputs(Map.of("B", 1));
                if (specs.size() != 1) {
                    throw def.error(
                            model.span(),
                            model.name() + " takes " + specs.size() + " forward inputs "
                                    + specs.stream().map(ModelInput::name).toList()
                                    + "; a decode or encode stage gives it one");
                }
                ModelInput in = specs.get(0);
                if (in.sized()) {
                    shapes.put(in.name(), in.shape());
                }
                dtypes.put(in.name(), DType.F32);
            } else {
                contract = model.contract();
                PipelineSettings.Sampling s = sample.sampling();
                if (contract.conditions().size() != sample.conditions().size()) {
                    throw def.error(
                            sample.span(),
                            model.name() + " is conditioned on " + contract.conditions()
                                    + " (its contract's condition); "
                                    + (sample.conditions().isEmpty()
                                            ? (def.settings().staged()
                                                    ? "give it with condition = <stage>"
                                                    : "a one-stage pipeline has nothing to give it: bind stages with let")
                                            : "this stage gives " + sample.conditions()));
                }
                boolean flowModel = contract.prediction().isFlow();
                if (s.isFlow() != flowModel) {
                    throw def.error(
                            sample.span(),
                            s.isFlow()
                                    ? "a flow schedule samples a model that predicts the flow's velocity; "
                                            + model.name() + "'s contract says predicts = \""
                                            + contract.prediction().name().toLowerCase(java.util.Locale.ROOT) + "\""
                                    : model.name()
                                            + " predicts a flow's velocity (its contract); give it schedule = flow(1000)");
                }
                if (flowModel && contract.variance() == org.tessera.engine.diffusion.VarianceType.LEARNED_RANGE) {
                    throw def.error(
                            model.span(), "a flow model has no learned variance; its contract says learned_range");
                }
                if (guided(s.guidanceScale()) && cannotGuide(contract) != null) {
                    throw def.error(sample.span(), cannotGuide(contract));
                }
                int batch = modelBatch(s.classes().length, s.guidanceScale());
                specs = model.inputs(Map.of("B", batch));
                if (contract.packing() != null || s.sizes() != null) {
                    packedShapes(def, model, contract, sample, specs, shapes, dtypes);
                }
                for (ModelInput in : contract.packing() != null ? List.<ModelInput>of() : specs) {
                    int[] shape = in.shape();
                    DType dtype = in.dtype();
                    if (in.name().equals(contract.latent())) {
                        dtype = DType.F32;
                        if (s.latent() != null) {
                            shape = new int[s.latent().length + 1];
                            shape[0] = batch;
                            System.arraycopy(s.latent(), 0, shape, 1, s.latent().length);
                        }
                    } else if (in.name().equals(contract.timestep())) {
                        // A diffusion's timesteps are integers; a flow's are σ·T.
                        dtype = s.isFlow() ? DType.F32 : DType.I64;
                    } else if (in.name().equals(contract.label())) {
                        dtype = DType.I64;
                    } else {
                        dtype = DType.F32; // a condition: another stage's result
                    }
                    if (shape == null || java.util.Arrays.stream(shape).anyMatch(x -> x < 0)) {
                        throw def.error(
                                model.span(),
                                model.name() + ".forward input '" + in.name() + "' "
                                        + (shape == null
                                                ? "has no shape annotation"
                                                : "has sizes only a caller could bind, "
                                                        + java.util.Arrays.toString(shape)
                                                                .replace("-1", "?"))
                                        + "; the pipeline cannot size it"
                                        + (in.name().equals(contract.latent())
                                                ? " (give latent = [C, H, W] in the pipeline)"
                                                : ""));
                    }
                    shapes.put(in.name(), shape);
                    dtypes.put(in.name(), dtype);
                }
            }
            List<String> inputNames = specs.stream().map(ModelInput::name).toList();
            ModelPlans plans = new ModelPlans(inputShapes -> {
                if (!device.onGpu()) { // a GPU's own memory is checked by its allocator, with the size
                    requireMemory(def, model, inputNames, dtypes, inputShapes);
                }
                GraphBuilder g = new GraphBuilder();
                List<Value> inputs = new ArrayList<>();
                for (String in : inputNames) {
                    inputs.add(input(def, model, g, in, dtypes.get(in), inputShapes.get(in)));
                }
                g.output("out", model.lower(g, inputs, weights.source()));
                return Planner.compile(
                        g.build(), device.compute(), device.host(), Planner.Options.DEFAULT, weights.release());
            });
            owned.add(plans);
            // The stage's own shapes, compiled up front (a decode stage's come from the stage before it).
            ModelPlans.Plan first = shapes.size() == inputNames.size() ? plans.plan(shapes) : null;
            if (contract != null && contract.packing() != null) {
                checkPackedOutput(
                        def,
                        model,
                        contract,
                        first.graph().optimizedGraph().outputs().get("out").shape(),
                        shapes.get(contract.latent()));
            } else if (contract != null) {
                checkOutput(
                        def,
                        model,
                        contract,
                        first.graph().optimizedGraph().outputs().get("out").shape(),
                        shapes.get(contract.latent()));
            }
            Tensor noise = null;
            if (sample != null && sample.sampling().noise() != null) {
                int[] want = shapes.get(contract.latent()).clone();
                want[0] = sample.sampling().classes().length;
                noise = loadTensor(def, sample.sampling().noise(), want, arena);
            }
            ContextClips contextClips =
                    sample == null ? null : contextClips(def, model, contract, sample, shapes, arena);
            Object classes = model.constant("num_classes");
            if (sample != null) { // found now, not after the stages before this one have run
                long n = classes instanceof Long l ? l : 0L;
                for (long c : sample.sampling().classes()) {
                    if (c < 0 || n > 0 && c >= n) {
                        throw def.error(
                                sample.sampling().classesSpan(),
                                "class " + c + " is outside 0.." + (n - 1) + " of " + model.name());
                    }
                }
            }
            ModelStage stage = new ModelStage(
                    name,
                    sample == null ? null : sample.sampling(),
                    sample == null ? null : def.sampler(name),
                    sample == null ? List.of() : sample.conditions(),
                    model.name(),
                    contract,
                    device,
                    plans,
                    inputNames,
                    shapes,
                    forwardInputs,
                    noise,
                    contextClips,
                    classes instanceof Long n ? n : 0L,
                    arena,
                    () -> {
                        // The plans read the weights: close them first, then free the weights.
                        for (int i = owned.size() - 1; i >= 0; i--) {
                            closeQuietly(owned.get(i));
                        }
                        closeAll(weightArenas);
                    });
            ok = true;
            return stage;
        } finally {
            if (!ok) {
                for (int i = owned.size() - 1; i >= 0; i--) {
                    closeQuietly(owned.get(i));
                }
                closeAll(weightArenas);
                arena.close();
            }
        }
    }

    /**
     * The model's output must hold what its contract says along the split axis: C channels of
     * the prediction for a latent of C channels, and C more for a learned variance.
     */
    private static void checkOutput(
            PipelineDefinition def, ModelDefinition model, ModelContract c, int[] out, int[] latent) {
        int axis = c.splitAxis();
        if (axis >= latent.length || axis >= out.length) {
            throw def.error(
                    model.span(),
                    "contract: split_axis " + axis + " is outside the latent " + java.util.Arrays.toString(latent)
                            + " or the output " + java.util.Arrays.toString(out));
        }
        int channels = latent[axis];
        int expected = c.variance().outputChannels(channels);
        int[] want = latent.clone();
        want[axis] = expected;
        if (!java.util.Arrays.equals(out, want)) {
            throw def.error(
                    model.span(),
                    model.name() + " returns " + java.util.Arrays.toString(out)
                            + " for a latent " + java.util.Arrays.toString(latent) + ", but its contract (variance "
                            + c.variance().name().toLowerCase(java.util.Locale.ROOT) + ") says "
                            + java.util.Arrays.toString(want));
        }
    }

    /**
     * A packed model's input shapes for the stage's own samples (Patch n' Pack): the rows its
     * {@code sizes} pack into, doubled under guidance, and one timestep and label per sample.
     * Refuses sizes for a model of one size, and a packed model without them.
     */
    private static void packedShapes(
            PipelineDefinition def,
            ModelDefinition model,
            ModelContract contract,
            PipelineSettings.SampleStage sample,
            List<ModelInput> specs,
            Map<String, int[]> shapes,
            Map<String, DType> dtypes) {
        PipelineSettings.Sampling s = sample.sampling();
        if (contract.packing() == null) {
            throw def.error(
                    sample.span(),
                    "sizes samples several sizes in one batch of a packed model (its contract says packed = ...), "
                            + "such as PackedDiT; " + model.name() + " takes one size: give latent = [C, H, W]");
        }
        if (s.sizes() == null) {
            throw def.error(
                    sample.span(),
                    model.name() + " is a packed model: give each sample's size with sizes = [[H, W], ...]");
        }
        if (s.noise() != null || s.latent() != null) {
            throw def.error(
                    sample.span(),
                    "a packed model's samples draw their own noise at their own sizes; drop "
                            + (s.noise() != null ? "noise" : "latent"));
        }
        ModelContract.Packing packing = contract.packing();
        Map<String, ModelInput> byName = new LinkedHashMap<>();
        specs.forEach(in -> byName.put(in.name(), in));
        int[] tokens = byName.get(contract.latent()).shape();
        int pp = packing.patch() * packing.patch();
        int features = tokens == null ? -1 : tokens[tokens.length - 1];
        if (tokens == null || tokens.length != 3 || features < 1 || features % pp != 0) {
            throw def.error(
                    model.span(),
                    model.name() + ".forward input '" + contract.latent() + "' must be packed tokens [R, L, C·p·p]"
                            + " with C·p·p known (p = " + packing.patch() + "), got "
                            + (tokens == null
                                    ? "no shape"
                                    : java.util.Arrays.toString(tokens).replace("-1", "?")));
        }
        int width = 0;
        if (packing.positions() instanceof ModelContract.Positions.SinCos sc) {
            int[] pos = byName.get(sc.input()).shape();
            width = pos == null ? -1 : pos[pos.length - 1];
            if (width < 1) {
                throw def.error(
                        model.span(),
                        model.name() + ".forward input '" + sc.input() + "' must give its width, [R, L, D]");
            }
        }
        int samples = Math.max(s.classes().length, s.sizes().length);
        List<int[]> sizes = new ArrayList<>();
        for (int e = 0; e < samples; e++) {
            sizes.add(s.sizes()[s.sizes().length == 1 ? 0 : e]);
        }
        if (!contract.conditions().isEmpty() || sample.init() != null) {
            throw def.error(
                    sample.span(),
                    "a packed model samples from noise and class labels only as yet (no condition inputs, no init)");
        }
        int copies = guided(s.guidanceScale()) ? 2 : 1;
        Map<String, Tensor> packingInputs;
        PackedBatch batch;
        try {
            batch = PackedBatch.of(packing, features / pp, sizes, s.pack(), sample.name());
            packingInputs = batch.inputs(copies, width);
        } catch (IllegalArgumentException e) {
            throw def.error(sample.span(), e.getMessage());
        }
        for (ModelInput in : specs) {
            String n = in.name();
            if (n.equals(contract.latent())) {
                shapes.put(n, new int[] {copies * batch.rows(), batch.rowLength(), features});
                dtypes.put(n, DType.F32);
            } else if (n.equals(contract.timestep()) || n.equals(contract.label())) {
                shapes.put(n, new int[] {copies * samples});
                dtypes.put(n, n.equals(contract.label()) || !s.isFlow() ? DType.I64 : DType.F32);
            } else {
                Tensor t = packingInputs.get(n);
                shapes.put(n, t.shape());
                dtypes.put(n, t.dtype());
            }
        }
    }

    /** A packed model's output: [R, L, p·p·C'] for tokens [R, L, C·p·p], C' as its variance says. */
    private static void checkPackedOutput(
            PipelineDefinition def, ModelDefinition model, ModelContract c, int[] out, int[] tokens) {
        int pp = c.packing().patch() * c.packing().patch();
        int[] want = {tokens[0], tokens[1], pp * c.variance().outputChannels(tokens[2] / pp)};
        if (!java.util.Arrays.equals(out, want)) {
            throw def.error(
                    model.span(),
                    model.name() + " returns " + java.util.Arrays.toString(out) + " for packed tokens "
                            + java.util.Arrays.toString(tokens) + ", but its contract (variance "
                            + c.variance().name().toLowerCase(java.util.Locale.ROOT) + ") says "
                            + java.util.Arrays.toString(want));
        }
    }

    /**
     * The batch the model sees for {@code samples} samples: twice as many with classifier-free
     * guidance (conditional and unconditional halves in one call, as DiT does), which
     * {@link ClassifierFreeGuidance} builds.
     */
    public static int modelBatch(int samples, double guidanceScale) {
        return guided(guidanceScale) ? ClassifierFreeGuidance.modelBatch(samples) : samples;
    }

    /** Why classifier-free guidance cannot run on a model with {@code contract}, or null when it can. */
    static String cannotGuide(ModelContract contract) {
        if (contract.label() == null || contract.nullLabel() == null) {
            return "guidance needs a model whose contract has a label and a null_label; this one has "
                    + (contract.label() == null ? "no label" : "no null_label") + " (use guidance = none)";
        }
        return null;
    }

    /** Guidance is on unless its scale is 1 (ε_u + 1·(ε_c − ε_u) = ε_c). */
    public static boolean guided(double guidanceScale) {
        return guidanceScale != 1.0;
    }

    private static void closeQuietly(AutoCloseable c) {
        try {
            c.close();
        } catch (Exception e) {
            System.err.println(
                    "tessera: warning: while releasing " + c.getClass().getSimpleName() + ": " + e.getMessage());
        }
    }

    static void closeAll(List<Arena> arenas) {
        synchronized (arenas) {
            for (Arena a : arenas) {
                a.close();
            }
            arenas.clear();
        }
    }

    static String describe(Exception e) {
        return switch (e) {
            case java.nio.file.NoSuchFileException n -> "no such file " + n.getFile();
            case java.nio.file.AccessDeniedException a -> "permission denied: " + a.getFile();
            default -> String.valueOf(e.getMessage());
        };
    }

    /** The clips a stage's first segment continues, and their classes where a data set gave them (else null). */
    record ContextClips(Tensor clips, long[] classes) {}

    /**
     * Checks a stage's context frames against its model, and loads the clips its first segment
     * continues or interpolates ({@code context = load(...)} or {@code moving_mnist(...)}): [N or
     * 1, F', C, H, W] with F' ≥ context_frames, in the latent's frame size. Null when the stage
     * gives none.
     */
    private static ContextClips contextClips(
            PipelineDefinition def,
            ModelDefinition model,
            ModelContract contract,
            PipelineSettings.SampleStage sample,
            Map<String, int[]> shapes,
            Arena arena) {
        PipelineSettings.Context c = sample.sampling().context();
        if (c == null) {
            return null;
        }
        if (contract.context() == null) {
            throw def.error(
                    c.span(),
                    "context frames are for a model that takes them (its contract says context = ...), such as"
                            + " VideoLDMContextDiT; " + model.name() + " takes none");
        }
        if (sample.init() != null) {
            throw def.error(c.span(), "a stage samples from init (img2img) or continues context frames, not both");
        }
        int[] latent = shapes.get(contract.latent()); // [B, F, C, H, W]
        if (c.frames() >= latent[1]) {
            throw def.error(
                    c.span(),
                    "context_frames = " + c.frames() + " leaves nothing to sample in a clip of " + latent[1]
                            + " frames");
        }
        int n = sample.sampling().classes().length;
        if (c.data() != null) {
            int[] clip = java.util.Arrays.copyOfRange(latent, 1, latent.length);
            TrainingData data = TrainingData.read(def, c.data(), clip, model);
            Tensor t = Tensor.zeros(arena, DType.F32, latent[0] == n ? latent : withBatch(latent, n));
            long[] classes = new long[n];
            data.examples(0, n, t, classes);
            return keyframes(def, c, new ContextClips(t, classes));
        }
        if (c.clips() == null) {
            return null;
        }
        PipelineSettings.TensorRef ref = c.clips();
        try (SafetensorsReader r = SafetensorsReader.open(ref.path())) {
            if (!r.contains(ref.key())) {
                throw def.error(ref.span(), ref.path().getFileName() + " has no tensor '" + ref.key() + "'");
            }
            Tensor src = r.tensor(ref.key());
            int[] got = src.shape();
            boolean fits = got.length == 5
                    && (got[0] == n || got[0] == 1)
                    && got[1] >= c.frames()
                    && got[2] == latent[2]
                    && got[3] == latent[3]
                    && got[4] == latent[4];
            if (!fits) {
                throw def.error(
                        ref.span(),
                        "'" + ref.key() + "' is " + java.util.Arrays.toString(got) + "; the clips to continue are ["
                                + n + " (one per class) or 1, F ≥ " + c.frames() + ", " + latent[2] + ", " + latent[3]
                                + ", " + latent[4] + "] (Latte's layout, the latent's frame size)");
            }
            Tensor t = Tensor.zeros(arena, DType.F32, got);
            t.copyFrom(src.dtype() == DType.F32 ? src : src.to(DType.F32, arena));
            return keyframes(def, c, new ContextClips(t, null));
        } catch (IOException | WeightsFormatException e) {
            throw def.error(ref.span(), "cannot load the clips to continue: " + describe(e));
        }
    }

    /** Interpolation needs two keyframes or more: clips of at least interpolate + 1 frames. */
    private static ContextClips keyframes(PipelineDefinition def, PipelineSettings.Context c, ContextClips clips) {
        int frames = clips.clips().size(1);
        if (c.interpolate() > 0 && frames < c.interpolate() + 1) {
            throw def.error(
                    c.span(),
                    "interpolate = " + c.interpolate() + " takes every " + c.interpolate() + "th frame of clips of "
                            + frames + " as keyframes: fewer than the two a clip is sampled between");
        }
        return clips;
    }

    private static int[] withBatch(int[] shape, int batch) {
        int[] s = shape.clone();
        s[0] = batch;
        return s;
    }

    /** One F32 tensor of {@code want}'s shape from a file (a starting noise), copied into {@code arena}. */
    private static Tensor loadTensor(PipelineDefinition def, PipelineSettings.TensorRef ref, int[] want, Arena arena) {
        try (SafetensorsReader r = SafetensorsReader.open(ref.path())) {
            if (!r.contains(ref.key())) {
                throw def.error(ref.span(), ref.path().getFileName() + " has no tensor '" + ref.key() + "'");
            }
            Tensor src = r.tensor(ref.key());
            if (!java.util.Arrays.equals(src.shape(), want)) {
                throw def.error(
                        ref.span(),
                        "'" + ref.key() + "' is " + java.util.Arrays.toString(src.shape())
                                + "; the starting noise of this stage is " + java.util.Arrays.toString(want)
                                + " (one per class, the latent's shape)");
            }
            Tensor t = Tensor.zeros(arena, DType.F32, want);
            t.copyFrom(src.dtype() == DType.F32 ? src : src.to(DType.F32, arena));
            return t;
        } catch (IOException | WeightsFormatException e) {
            throw def.error(ref.span(), "cannot load the starting noise: " + describe(e));
        }
    }

    private static Map<String, Tensor> loadInputs(PipelineDefinition def, PipelineSettings.Inputs in, Arena arena) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        List<String> missing = new ArrayList<>();
        try (SafetensorsReader r = SafetensorsReader.open(in.path())) {
            for (Map.Entry<String, String> e : in.names().entrySet()) {
                if (!r.contains(e.getValue())) {
                    missing.add(e.getValue());
                    continue;
                }
                Tensor src = r.tensor(e.getValue());
                Tensor t = Tensor.zeros(arena, src.dtype(), src.shape());
                t.copyFrom(src); // the reader's mapping closes below
                out.put(e.getKey(), t);
            }
        } catch (IOException | WeightsFormatException e) {
            throw def.error(in.span(), "cannot load inputs: " + describe(e));
        }
        if (!missing.isEmpty()) {
            throw def.error(
                    in.span(),
                    in.path().getFileName() + " has no tensor" + (missing.size() == 1 ? " '" : "s '")
                            + String.join("', '", missing) + "'");
        }
        if (out.isEmpty()) {
            throw def.error(in.span(), "load(...) names no inputs");
        }
        return out;
    }
}
