package org.tessera.runtime.internal;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import java.util.regex.Pattern;
import org.tessera.dsl.ModelContract;
import org.tessera.dsl.ModelDefinition;
import org.tessera.dsl.ModelInput;
import org.tessera.dsl.PipelineDefinition;
import org.tessera.dsl.pipeline.PipelineSettings;
import org.tessera.engine.backend.Backend;
import org.tessera.engine.backend.Backends;
import org.tessera.engine.diffusion.GaussianDiffusion;
import org.tessera.engine.diffusion.Schedules;
import org.tessera.engine.diffusion.VarianceType;
import org.tessera.engine.io.KeyAliases;
import org.tessera.engine.io.LossCurve;
import org.tessera.engine.io.OutputSet;
import org.tessera.engine.io.SafetensorsWriter;
import org.tessera.engine.io.WeightBinding;
import org.tessera.engine.io.WeightFile;
import org.tessera.engine.io.WeightSource;
import org.tessera.engine.io.WeightsFormatException;
import org.tessera.engine.packing.TokenDropping;
import org.tessera.engine.parallel.WorkerPool;
import org.tessera.engine.random.RandomStream;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Tensor;
import org.tessera.engine.train.LearningRate;
import org.tessera.runtime.TrainingListener;

/**
 * Runs a pipeline's train stages ({@code tessera train}): for each, the data is read and checked
 * against the model, a {@link DiffusionTrainer} (a diffusion or a flow) or a
 * {@link ClassifierTrainer} is built, and steps run with a checkpoint every N steps (and when
 * stopped), from which the next run resumes, and a grid of samples every {@code sample_every}.
 * Batches are drawn by a counter-based generator keyed by the step, so a resumed run sees exactly
 * the batches an uninterrupted one would. At the end a classifier is measured on its test data,
 * and the outputs — the EMA weights as a checkpoint the model loads — are written together, with
 * the loss curve next to the checkpoint.
 */
public final class TrainingRun {
    /** Steps per point of the loss curve. */
    static final int WINDOW = 50;

    private TrainingRun() {}

    /** The checkpoint of stage {@code stage} under {@code outDir}. */
    public static Path checkpointOf(Path outDir, String stage) {
        return outDir.resolve(stage + ".checkpoint.safetensors");
    }

    /**
     * Trains every train stage of {@code def}; returns the output files, or an empty list when
     * stopped (a checkpoint holds the progress).
     *
     * @param restart start from the stage's initial weights even where a checkpoint exists
     */
    public static List<Path> run(
            PipelineDefinition def, int threads, Path outDir, boolean restart, TrainingListener listener)
            throws IOException {
        PipelineSettings settings = def.settings();
        List<PipelineSettings.TrainStage> stages = settings.stages().stream()
                .filter(PipelineSettings.TrainStage.class::isInstance)
                .map(PipelineSettings.TrainStage.class::cast)
                .toList();
        if (stages.isEmpty()) {
            throw def.error(
                    settings.span(), "pipeline '" + settings.name() + "' has no train stage (let name = train(...))");
        }
        if (stages.size() != settings.stages().size()) {
            throw def.error(
                    settings.span(),
                    "a pipeline that trains has only train stages for now; sample from the trained weights in"
                            + " another pipeline (weights = \"OUT/name.safetensors\")");
        }
        OutputWriter.refuseInputs(
                settings,
                outDir,
                stages.stream().map(s -> checkpointOf(outDir, s.name())).toList());
        OutputWriter.checkWritable(outDir);
        Map<String, Trained> trained = new LinkedHashMap<>();
        List<Arena> arenas = Collections.synchronizedList(new ArrayList<>());
        try (WorkerPool pool = new WorkerPool(threads)) {
            Backend cpu = Backends.cpu(pool, System.err::println);
            for (PipelineSettings.TrainStage st : stages) {
                Trained weights = train(def, st, cpu, arenas, outDir, restart, listener);
                if (weights == null) {
                    return List.of();
                }
                trained.put(st.name(), weights);
            }
            return writeOutputs(settings, trained, outDir);
        } finally {
            arenas.forEach(Arena::close);
        }
    }

    /**
     * A packed model's trainer: L_simple on the data placed at the stage's {@code sizes} (the
     * data's own when none are given), packed per batch. What it does not do yet is refused.
     */
    private static Trainer packedTrainer(
            PipelineDefinition def,
            PipelineSettings.Training t,
            ModelDefinition model,
            ModelContract contract,
            int[] shape,
            boolean clips,
            boolean images,
            WeightSource initial,
            Predicate<String> trainable,
            Backend cpu,
            LearningRate lr) {
        String refused = t.isFlow() || contract.prediction().isFlow()
                ? "a flow schedule or a model that predicts flow"
                : t.objective().equals("hybrid")
                                || contract.variance() == VarianceType.LEARNED_RANGE
                                        && !t.objective().equals("simple")
                        ? "the hybrid loss of a learned variance (learn_sigma = false, or objective = \"simple\")"
                        : t.sampleEvery() > 0 ? "sample_every" : null;
        if (refused != null) {
            throw def.error(t.span(), "training a packed model does not take " + refused + " yet");
        }
        if (clips && t.sizes() == null) {
            throw def.error(
                    t.span(),
                    "a packed model takes clips at the sizes it is given: sizes = [[F, H, W], ...] (and [H, W] for"
                            + " single frames), e.g. sizes = [[16, 64, 64], [8, 64, 64], [64, 64]]");
        }
        List<int[]> sizes = t.sizes() == null ? List.of(new int[] {shape[1], shape[2]}) : List.of(t.sizes());
        if (!clips && sizes.stream().anyMatch(s -> s.length == 3)) {
            throw def.error(
                    t.data().span(),
                    "a training size [F, H, W] is a clip, and these data are images; clips come from"
                            + " moving_mnist(...)");
        }
        if (images && t.sizes() != null && sizes.stream().allMatch(s -> s.length == 3)) {
            throw def.error(
                    t.data().span(),
                    "the data give images, and every training size is a clip [F, H, W]: give an image size [H, W]"
                            + " too");
        }
        TokenDropping drop = t.drop() == null
                ? TokenDropping.NONE
                : t.drop().similar()
                        ? new TokenDropping.Similar(t.drop().value(), t.drop().share(), t.seed())
                        : new TokenDropping.Random(t.drop().value(), t.seed());
        return new PackedDiffusionTrainer(
                model,
                shape.length == 4 ? shape[1] : shape[0], // [F, C, H, W] clips or [C, H, W] images
                sizes,
                t.pack(),
                drop,
                new GaussianDiffusion(
                        Schedules.named(t.schedule(), t.scheduleSteps()),
                        contract.prediction().parameterization(),
                        contract.variance(),
                        cpu.elementwise()),
                initial,
                trainable,
                cpu,
                diffusionSettings(def, t, model, lr));
    }

    /** The trainer's settings: the stage's, with the learning rate and the label dropout resolved. */
    private static DiffusionTrainer.Settings diffusionSettings(
            PipelineDefinition def, PipelineSettings.Training t, ModelDefinition model, LearningRate lr) {
        return new DiffusionTrainer.Settings(
                t.batch(),
                lr,
                t.weightDecay(),
                t.clip(),
                t.ema(),
                labelDropout(def, t, model),
                t.seed(),
                t.snrGamma(),
                contextFrames(def, t, model),
                t.keyframes());
    }

    /**
     * The numbers of context frames training draws among: as given, else Video LDM's [0, 1, 2] for
     * a model with context frames; none for a model without.
     */
    private static int[] contextFrames(PipelineDefinition def, PipelineSettings.Training t, ModelDefinition model) {
        if (model.contract().context() == null) {
            if (t.contextFrames() != null || t.keyframes() > 0) {
                throw def.error(
                        t.span(),
                        (t.contextFrames() != null ? "context_frames" : "keyframes")
                                + " gives a model some of the frames of its clips, and " + model.name()
                                + " takes none (its contract names no context input; VideoLDMContextDiT does)");
            }
            return new int[0];
        }
        return t.contextFrames() != null ? t.contextFrames() : new int[] {0, 1, 2};
    }

    /**
     * The probability of training a label as the null label: as given, else the model's contract's
     * (the stdlib's DiT says its class_dropout_prob, as the reference's LabelEmbedder drops labels),
     * else 0.1 when the model has a null label and 0 when it has none — DiT with
     * class_dropout_prob = 0 has no row for one, and its reference trains every label as given.
     */
    private static double labelDropout(PipelineDefinition def, PipelineSettings.Training t, ModelDefinition model) {
        boolean hasNull = model.contract().label() != null && model.contract().nullLabel() != null;
        if (Double.isNaN(t.labelDropout())) {
            return !hasNull
                    ? 0
                    : model.contract().labelDropout() != null ? model.contract().labelDropout() : 0.1;
        }
        if (t.labelDropout() > 0 && !hasNull) {
            throw def.error(
                    t.span(),
                    "label_dropout = " + t.labelDropout() + " trains labels as the null label, and " + model.name()
                            + " has none (its contract gives no null_label; DiT has one when class_dropout_prob > 0)");
        }
        return t.labelDropout();
    }

    /** One stage to its last step; the trained (EMA) weights with the fixed ones, or null when stopped. */
    private static Trained train(
            PipelineDefinition def,
            PipelineSettings.TrainStage st,
            Backend cpu,
            List<Arena> arenas,
            Path outDir,
            boolean restart,
            TrainingListener listener)
            throws IOException {
        PipelineSettings.Training t = st.training();
        ModelDefinition model = def.model(st.name());
        int[] shape = exampleShape(def, model, t);
        MixedTrainingData mixed = null;
        TrainingData data = null;
        if (t.data() instanceof PipelineSettings.MixedData m) {
            if (t.classifies() || model.contract().packing() == null) {
                throw def.error(
                        m.span(),
                        "mix(...) puts images and clips of several sizes in one batch, which a packed model takes"
                                + " (its contract says packed = ...); " + model.name() + " trains on one data set");
            }
            mixed = MixedTrainingData.read(def, m, shape, framesOf(t), model);
        } else {
            data = TrainingData.read(def, t.data(), shape, model);
        }
        TrainingData test = t.test() == null ? null : TrainingData.read(def, t.test(), shape, model);
        WeightSource initial = initialWeights(def, st, model, cpu, arenas);
        Predicate<String> trainable = trainable(t.freeze());
        LearningRate lr =
                new LearningRate(t.learningRate(), t.warmup(), Math.max(t.steps(), t.warmup() + 1), t.cosine(), 0);
        Trainer trainer;
        try {
            if (t.classifies()) {
                ClassifierTrainer c = new ClassifierTrainer(
                        model,
                        shape,
                        initial,
                        trainable,
                        cpu,
                        new ClassifierTrainer.Settings(t.batch(), lr, t.weightDecay(), t.clip(), t.ema(), t.seed()));
                for (TrainingData d : test == null ? List.of(data) : List.of(data, test)) {
                    if (d.maxLabel() >= c.classes()) {
                        throw def.error(
                                d == data ? t.data().span() : t.test().span(),
                                "label " + d.maxLabel() + " is outside the " + c.classes() + " classes " + model.name()
                                        + " tells apart");
                    }
                }
                trainer = c;
            } else {
                ModelContract contract = model.contract();
                String packedOnly =
                        t.sizes() != null ? "sizes" : t.pack() != 0 ? "pack" : t.drop() != null ? "drop" : null;
                if (contract.packing() == null && packedOnly != null) {
                    throw def.error(
                            t.span(),
                            packedOnly
                                    + " is for a packed model (its contract says packed = ...), such as PackedDiT, which"
                                    + " trains on several sizes; " + model.name() + " trains at the data's size");
                }
                if (contract.packing() != null) {
                    boolean clips = mixed != null ? mixed.hasClips() : shape.length == 4;
                    boolean images = mixed != null ? mixed.hasImages() : shape.length == 3;
                    trainer = packedTrainer(def, t, model, contract, shape, clips, images, initial, trainable, cpu, lr);
                } else {
                    if (contract.prediction().isFlow() != t.isFlow()) {
                        throw def.error(
                                t.span(),
                                t.isFlow()
                                        ? "a flow schedule trains a model that predicts the flow's velocity; "
                                                + model.name()
                                                + "'s contract says predicts = \""
                                                + contract.prediction().name().toLowerCase(java.util.Locale.ROOT) + "\""
                                        : model.name() + " predicts a flow's velocity (its contract); train it with"
                                                + " schedule = flow(1000)");
                    }
                    boolean learned = contract.variance() == VarianceType.LEARNED_RANGE;
                    if (t.isFlow() && learned) {
                        throw def.error(
                                model.span(), "a flow model has no learned variance; its contract says learned_range");
                    }
                    // DiT's choice: the bound's term trains a learned variance, which L_simple leaves as it is
                    // (the trainer refuses the hybrid loss for a model without one).
                    boolean hybrid =
                            t.objective().equals("hybrid") || t.objective().equals("diffusion") && learned;
                    DiffusionTrainer.Process process = t.isFlow()
                            ? new DiffusionTrainer.Flow(t.scheduleSteps(), t.shift())
                            : new DiffusionTrainer.Diffusion(
                                    new GaussianDiffusion(
                                            Schedules.named(t.schedule(), t.scheduleSteps()),
                                            contract.prediction().parameterization(),
                                            contract.variance(),
                                            cpu.elementwise()),
                                    hybrid);
                    trainer = new DiffusionTrainer(
                            model, shape, process, initial, trainable, cpu, diffusionSettings(def, t, model, lr));
                }
            }
        } catch (IllegalArgumentException e) { // what the trainer refuses (a hybrid loss without a learned variance, …)
            throw def.error(t.span(), e.getMessage());
        }

        TrainingSamples samples = t.sampleEvery() > 0 && trainer instanceof DiffusionTrainer d
                ? new TrainingSamples(model, shape, d.process(), d.emaWeights(), initial, trainable, cpu)
                : null;
        Path checkpoint = checkpointOf(outDir, st.name());
        List<Double> curve = new ArrayList<>();
        if (!restart && Files.exists(checkpoint)) {
            Map<String, String> meta;
            try {
                meta = trainer.restore(checkpoint);
            } catch (IOException e) {
                throw new IOException(e.getMessage() + " (train from the start with --restart)", e);
            }
            for (String v : meta.getOrDefault("loss_curve", "").split(",")) {
                if (!v.isBlank()) {
                    curve.add(Double.parseDouble(v));
                }
            }
        }
        Tensor x0 = mixed == null ? Tensor.zeros(DType.F32, batchShape(shape, t.batch())) : null;
        long[] classes = new long[t.batch()];
        double window = 0;
        int inWindow = 0;
        listener.onPlan(st.name(), trainer.planSummary());
        listener.onStart(st.name(), t.batch(), trainer.steps() + 1, t.steps());
        for (long step = trainer.steps() + 1; step <= t.steps(); step++) {
            RandomStream draws = new RandomStream(t.seed() ^ 0x6a09e667f3bcc908L, step);
            double loss;
            if (mixed != null) { // images and clips of their own sizes (a packed trainer: checked above)
                loss = ((PackedDiffusionTrainer) trainer).step(mixed.batch(draws, classes), classes);
            } else {
                data.batch(draws, t.data().flip(), x0, classes);
                loss = trainer.step(x0, classes);
            }
            listener.onStep(st.name(), step, t.steps(), loss, lr.at(step));
            window += loss;
            inWindow++;
            if (step % WINDOW == 0) { // the mean of the steps this process ran in the window
                curve.add(window / inWindow);
                window = 0;
                inWindow = 0;
            }
            boolean stop = listener.stopRequested();
            if (stop || step % t.checkpointEvery() == 0 || step == t.steps()) {
                save(trainer, checkpoint, curve, outDir.resolve(st.name() + ".loss.png"));
                listener.onCheckpoint(st.name(), step, checkpoint);
            }
            if (samples != null && (step % t.sampleEvery() == 0 || step == t.steps())) {
                Path grid = outDir.resolve(st.name() + ".samples-" + step + samples.extension());
                samples.write(grid);
                listener.onSamples(st.name(), step, grid);
            }
            if (stop) {
                return null;
            }
        }
        Map<String, String> metadata = new LinkedHashMap<>();
        if (test != null && trainer instanceof ClassifierTrainer c) {
            Agreement a = c.accuracy(test.count(), EVAL_BATCH, test::examples);
            long correct = a.matching();
            listener.onTestAccuracy(st.name(), correct, test.count(), a.byClass());
            metadata.put(
                    "test_accuracy",
                    String.format(
                            java.util.Locale.ROOT,
                            "%.4f (%d of %d)",
                            (double) correct / test.count(),
                            correct,
                            test.count()));
            metadata.put("test_accuracy_by_class", Agreement.describe(a.byClass()));
        }
        Map<String, Tensor> averaged = new LinkedHashMap<>();
        Map<String, Tensor> last = new LinkedHashMap<>();
        for (Map.Entry<String, int[]> w : model.weightShapes().entrySet()) {
            Tensor ema = trainer.emaWeights().get(w.getKey());
            Tensor current = trainer.weights().get(w.getKey());
            Tensor fixed = ema == null || current == null ? initial.tensor(w.getKey(), w.getValue()) : null;
            averaged.put(w.getKey(), ema != null ? ema : fixed);
            last.put(w.getKey(), current != null ? current : fixed);
        }
        return new Trained(averaged, last, metadata);
    }

    /**
     * A stage's weights, with the fixed and frozen ones: the moving average and those the run
     * ended with, and what to note in their files.
     */
    private record Trained(Map<String, Tensor> averaged, Map<String, Tensor> last, Map<String, String> metadata) {}

    /** Examples per batch when a classifier is measured on its test data. */
    static final int EVAL_BATCH = 500;

    /**
     * The weights {@code r.from()} holds, the drawn ones for the rest: every tensor of the file
     * must be one of the model's weights, of its shape (a key of another model is an error, not
     * ignored).
     */
    private static WeightSource startingFrom(
            PipelineDefinition def,
            PipelineSettings.RandomWeights r,
            ModelDefinition model,
            WeightSource drawn,
            Arena arena) {
        WeightFile opened;
        try {
            opened = WeightFile.open(r.from());
        } catch (IOException | WeightsFormatException e) {
            throw def.error(r.span(), "cannot load weights: " + e.getMessage());
        }
        Map<String, String> fileKeys = new java.util.HashMap<>(); // a renamed key's name in the file
        WeightFile file;
        try {
            for (PipelineSettings.Rename rename : r.rename()) {
                // A prefix that matches nothing is a typo, and would leave the keys it meant under
                // their own names, where they may load into the wrong layers without a word.
                if (opened.names().stream().noneMatch(k -> rename.apply(k) != null)) {
                    throw def.error(
                            rename.span(), r.from() + ": no key starts with \"" + rename.from() + "\" to rename");
                }
            }
            Map<String, String> names = new java.util.HashMap<>(); // each file key's name in the model
            for (String key : opened.names()) {
                String name = renamed(r, key);
                names.put(key, name);
                if (!name.equals(key)) {
                    fileKeys.put(name, key);
                }
            }
            file = KeyAliases.apply(
                    KeyAliases.renamed(opened, names::get), model.weightShapes().keySet());
        } catch (WeightsFormatException e) {
            opened.close();
            throw def.error(r.span(), "cannot load weights: " + e.getMessage());
        } catch (RuntimeException e) {
            opened.close();
            throw e;
        }
        Map<String, int[]> shapes = model.weightShapes();
        for (String key : file.names()) {
            int[] want = shapes.get(key);
            String shown =
                    "'" + key + "'" + (fileKeys.containsKey(key) ? " (renamed from '" + fileKeys.get(key) + "')" : "");
            if (want == null) {
                file.close();
                throw def.error(r.span(), r.from() + ": " + shown + " is not a weight of " + model.name());
            }
            if (!java.util.Arrays.equals(want, file.shape(key))) {
                file.close();
                throw def.error(
                        r.span(),
                        r.from() + ": " + shown + " is " + java.util.Arrays.toString(file.shape(key)) + ", "
                                + model.name() + " has " + java.util.Arrays.toString(want));
            }
        }
        WeightSource loaded = WeightBinding.checkpoint(file, arena).source(); // open for the run
        java.util.Set<String> held = new java.util.HashSet<>(file.names());
        return (key, shape) -> held.contains(key) ? loaded.tensor(key, shape) : drawn.tensor(key, shape);
    }

    /** {@code key} under the first of {@code init(rename = ...)}'s prefixes it starts with. */
    private static String renamed(PipelineSettings.RandomWeights r, String key) {
        for (PipelineSettings.Rename rename : r.rename()) {
            String to = rename.apply(key);
            if (to != null) {
                return to;
            }
        }
        return key;
    }

    /** Where a stage's training starts: weights drawn from a seed, or a checkpoint to fine-tune. */
    private static WeightSource initialWeights(
            PipelineDefinition def,
            PipelineSettings.TrainStage st,
            ModelDefinition model,
            Backend cpu,
            List<Arena> arenas) {
        Arena arena = Arena.ofShared();
        arenas.add(arena);
        return switch (st.weights()) {
            case PipelineSettings.RandomWeights r -> {
                WeightSource drawn = (r.declared()
                                ? WeightBinding.initialized(r.seed(), model.weightInits(), r.std(), cpu, arenas)
                                : WeightBinding.random(r.seed(), r.std(), cpu, arenas))
                        .source();
                yield r.from() == null ? drawn : startingFrom(def, r, model, drawn, arena);
            }
            case PipelineSettings.Checkpoint c -> {
                WeightFile file;
                try {
                    file = KeyAliases.apply(
                            WeightFile.open(c.path()), model.weightShapes().keySet());
                } catch (IOException | WeightsFormatException e) {
                    throw def.error(c.span(), "cannot load weights: " + e.getMessage());
                }
                String mismatch = WeightBinding.mismatch(file, model.weightShapes(), model.name());
                if (mismatch != null) {
                    file.close();
                    throw def.error(c.span(), mismatch);
                }
                yield WeightBinding.checkpoint(file, arena).source(); // the file stays open for the run
            }
        };
    }

    private static void save(Trainer trainer, Path checkpoint, List<Double> curve, Path png) throws IOException {
        StringBuilder sb = new StringBuilder();
        for (double v : curve) {
            sb.append(sb.isEmpty() ? "" : ",").append(v);
        }
        trainer.save(checkpoint, Map.of("loss_curve", sb.toString()));
        try (OutputSet set = OutputSet.open()) {
            LossCurve.write(curve.stream().mapToDouble(Double::doubleValue).toArray(), WINDOW, png, set);
            set.commit();
        }
    }

    private static List<Path> writeOutputs(PipelineSettings settings, Map<String, Trained> trained, Path outDir)
            throws IOException {
        try (OutputSet set = OutputSet.open()) {
            for (PipelineSettings.Output o : settings.outputs()) {
                if (!o.format().equals("weights")) {
                    throw new IllegalArgumentException(o.span() + ": a pipeline that trains writes weights(stage)");
                }
                Trained t = trained.get(o.names().get(0));
                Map<String, String> metadata = new LinkedHashMap<>();
                metadata.put("pipeline", settings.name());
                metadata.put("stage", o.names().get(0));
                metadata.put("weights", o.averaged() ? "ema" : "final");
                // A classifier's test accuracy was measured on the moving average: say so in a
                // file of the final weights.
                t.metadata()
                        .forEach((k, v) -> metadata.put(o.averaged() || !k.startsWith("test_") ? k : "ema_" + k, v));
                SafetensorsWriter.write(
                        outDir.resolve(o.file()),
                        new LinkedHashMap<>(o.averaged() ? t.averaged() : t.last()),
                        metadata,
                        set);
            }
            return set.commit();
        }
    }

    /**
     * One example's shape [C, H, W] (or [F, C, H, W] for clips): a diffusion model's contract
     * latent, a classifier's one input, sized by its annotation; a packed model's data at its
     * input_size.
     */
    private static int[] exampleShape(PipelineDefinition def, ModelDefinition model, PipelineSettings.Training t) {
        List<ModelInput> inputs = model.inputs(Map.of("B", t.batch()));
        String name;
        if (t.classifies()) {
            if (inputs.size() != 1) {
                throw def.error(
                        model.span(),
                        model.name() + ".forward takes " + inputs.size() + " inputs; a classifier takes one, the"
                                + " images [B, C, H, W]");
            }
            name = inputs.get(0).name();
        } else {
            name = model.contract().latent();
            if (model.contract().packing() != null) {
                // Packed tokens have no size; the data comes at the model's own, and each example
                // is then placed at a training size. Clips come with as many frames as the
                // longest training size takes.
                if (model.constant("in_channels") instanceof Long c && model.constant("input_size") instanceof Long s) {
                    int ch = Math.toIntExact(c);
                    int side = Math.toIntExact(s);
                    if (t.data() instanceof PipelineSettings.MovingMnistData) {
                        return new int[] {framesOf(t), ch, side, side};
                    }
                    return new int[] {ch, side, side};
                }
                throw def.error(
                        model.span(),
                        model.name() + " is a packed model without in_channels and input_size"
                                + " parameters: the data has no size to come at");
            }
        }
        for (ModelInput in : inputs) {
            if (in.name().equals(name)) {
                if (!in.sized()) {
                    throw def.error(
                            model.span(),
                            model.name() + ".forward input '" + in.name()
                                    + "' needs sizes to train on, e.g. [B, 1, 32, 32]");
                }
                return Arrays.copyOfRange(in.shape(), 1, in.shape().length);
            }
        }
        throw def.error(model.span(), model.name() + " has no forward input '" + name + "'");
    }

    /** The frames a packed model's clips come with: as many as the longest training size takes (1 with none). */
    private static int framesOf(PipelineSettings.Training t) {
        int frames = 1;
        for (int[] size : t.sizes() == null ? new int[0][] : t.sizes()) {
            frames = Math.max(frames, size.length == 3 ? size[0] : 1);
        }
        return frames;
    }

    private static int[] batchShape(int[] latent, int batch) {
        int[] s = new int[latent.length + 1];
        s[0] = batch;
        System.arraycopy(latent, 0, s, 1, latent.length);
        return s;
    }

    /** Learned weights not matched by a freeze pattern ({@code *} any characters). */
    static Predicate<String> trainable(List<String> freeze) {
        List<Pattern> patterns = freeze.stream()
                .map(p -> Pattern.compile(Pattern.quote(p).replace("*", "\\E.*\\Q")))
                .toList();
        return key -> patterns.stream().noneMatch(p -> p.matcher(key).matches());
    }
}
