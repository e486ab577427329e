package org.tessera.dsl.sema;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.tessera.dsl.ast.Ast;
import org.tessera.dsl.diag.Diagnostics;
import org.tessera.dsl.diag.Span;
import org.tessera.dsl.pipeline.PipelineSettings;

/**
 * Reads a {@code pipeline { ... }} declaration into {@link PipelineSettings}, reporting unknown
 * settings, wrong types and missing pieces at their source positions. It reads the pipeline's
 * shape — its slots or stages, what each stage takes, where its weights come from — and hands a
 * sample stage's settings to {@link SamplingReader}, a train stage's to {@link TrainingReader},
 * the outputs to {@link OutputReader}; the values inside them go through one {@link ArgReader}.
 */
public final class SettingsReader {
    private static final Set<String> KEYS = Set.of(
            "model",
            "weights",
            "inputs",
            "schedule",
            "sampler",
            "guidance",
            "classes",
            "latent",
            "seed",
            "decoder",
            "clip_x0",
            "noise",
            "context",
            "context_frames",
            "segments",
            "interpolate",
            "sizes",
            "pack");

    private final Diagnostics diagnostics;
    private final Map<String, String> overrides;
    private final ArgReader values;
    private final SamplingReader samplingReader;
    private final TrainingReader trainingReader;
    private final OutputReader outputReader;

    /**
     * @param baseDir where relative paths in the script resolve (the script's folder)
     * @param overrides {@code --set key=value} pairs, applied over the script's settings
     */
    public SettingsReader(Diagnostics diagnostics, Path baseDir, Map<String, String> overrides) {
        this.diagnostics = diagnostics;
        this.overrides = overrides;
        this.values = new ArgReader(diagnostics, baseDir);
        this.samplingReader = new SamplingReader(diagnostics, values);
        this.trainingReader = new TrainingReader(diagnostics, values, samplingReader);
        this.outputReader = new OutputReader(diagnostics, values);
    }

    /** A pipeline's checked settings and the model call of each model stage, by stage name (to instantiate). */
    public record Result(PipelineSettings settings, Map<String, Ast.Call> models, Map<String, Ast.Call> samplers) {
        public Result {
            models = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(models));
            samplers = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(samplers));
        }

        /** The model call of a one-stage pipeline. */
        public Ast.Call model() {
            return models.values().iterator().next();
        }
    }

    /** The keys a {@code sample(...)} stage takes: a one-stage pipeline's slots, less the pipeline-wide ones. */
    private static final Set<String> SAMPLE_KEYS = Set.of(
            "model",
            "weights",
            "schedule",
            "sampler",
            "guidance",
            "classes",
            "latent",
            "clip_x0",
            "condition",
            "noise",
            "context",
            "context_frames",
            "segments",
            "interpolate",
            "init",
            "strength",
            "sizes",
            "pack");

    private static final Set<String> STAGE_CALLS =
            Set.of("sample", "decode", "encode", "classify", "upsample", "concat", "train", "image", "pack", "unpack");

    /** The keys a {@code train(...)} stage takes. */
    private static final Set<String> TRAIN_KEYS = Set.of(
            "model",
            "weights",
            "data",
            "schedule",
            "optimizer",
            "batch",
            "steps",
            "clip",
            "ema",
            "label_dropout",
            "snr_gamma",
            "context_frames",
            "keyframes",
            "seed",
            "checkpoint",
            "freeze",
            "objective",
            "test",
            "sample_every",
            "sizes",
            "pack",
            "drop");

    /** The settings, or null when the declaration has errors (reported to the diagnostics). */
    public Result read(Ast.PipelineDecl decl) {
        Map<String, Ast.Expr> settings = new LinkedHashMap<>();
        Map<String, Ast.StageSetting> stageDecls = new LinkedHashMap<>();
        List<PipelineSettings.Output> outputs = new ArrayList<>();
        int errors = diagnostics.errorCount();
        for (Ast.Setting s : decl.settings()) {
            switch (s) {
                case Ast.AssignSetting a -> {
                    if (!KEYS.contains(a.key())) {
                        diagnostics.error(
                                a.span(),
                                "unknown pipeline setting '" + a.key() + "'" + didYouMean(a.key()) + " (settings: "
                                        + String.join(", ", new java.util.TreeSet<>(KEYS)) + ")");
                    } else if (settings.containsKey(a.key())) {
                        diagnostics.error(a.span(), "setting '" + a.key() + "' is given twice");
                    } else {
                        settings.put(a.key(), a.value());
                    }
                }
                case Ast.StageSetting st -> {
                    if (stageDecls.putIfAbsent(st.name(), st) != null) {
                        diagnostics.error(st.span(), "stage '" + st.name() + "' is bound twice");
                    }
                }
                case Ast.OutputSetting o -> outputs.add(outputReader.read(o));
            }
        }
        boolean staged = !stageDecls.isEmpty();
        Map<String, Map<String, Ast.Expr>> stageOverrides = new LinkedHashMap<>();
        for (Map.Entry<String, String> o : overrides.entrySet()) {
            String key = o.getKey();
            int dot = key.indexOf('.');
            if (staged && dot > 0) {
                String stage = key.substring(0, dot);
                String arg = key.substring(dot + 1);
                if (!stageDecls.containsKey(stage)) {
                    diagnostics.error(
                            decl.span(),
                            "--set " + key + ": no stage '" + stage + "'"
                                    + Suggestions.didYouMean(stage, stageDecls.keySet()));
                    continue;
                }
                Ast.Expr e = parseOverride(arg, o.getValue(), decl.span());
                if (e != null) {
                    stageOverrides
                            .computeIfAbsent(stage, k -> new LinkedHashMap<>())
                            .put(arg, e);
                }
                continue;
            }
            if (!KEYS.contains(key)) {
                diagnostics.error(
                        decl.span(),
                        "--set " + key + ": unknown pipeline setting" + didYouMean(key)
                                + (staged ? " (in a pipeline of stages, name the stage: --set STAGE.KEY=VALUE)" : ""));
                continue;
            }
            Ast.Expr e = parseOverride(key, o.getValue(), decl.span());
            if (e != null) {
                settings.put(key, e);
            }
        }
        long seed = settings.containsKey("seed") ? values.integer(settings.get("seed"), "seed") : 0;
        Ast.Expr decoder = settings.get("decoder");
        if (decoder != null && !(decoder instanceof Ast.Name n && n.dotted().equals("none"))) {
            diagnostics.error(
                    decoder.span(),
                    "decoding latents through a VAE is not supported yet; use decoder = none"
                            + " and write the latents (output \"x.safetensors\" = tensors(samples))");
        }
        List<PipelineSettings.Stage> stages = new ArrayList<>();
        Map<String, Ast.Call> models = new LinkedHashMap<>();
        if (staged) {
            for (String k : settings.keySet()) {
                if (!k.equals("seed") && !k.equals("decoder")) {
                    diagnostics.error(
                            settings.get(k).span(),
                            "'" + k + "' belongs in a stage in a pipeline of stages:" + " let name = sample(" + k
                                    + " = ..., ...)");
                }
            }
            for (Ast.StageSetting st : stageDecls.values()) {
                PipelineSettings.Stage stage =
                        stage(st, stages, models, stageOverrides.getOrDefault(st.name(), Map.of()));
                if (stage != null) {
                    stages.add(stage);
                }
            }
        } else {
            oneStage(decl, settings, stages, models);
        }
        if (outputs.isEmpty()) {
            diagnostics.warning(
                    decl.span(),
                    "pipeline '" + decl.name() + "' writes no output; add e.g. "
                            + (staged
                                    ? "output \"x.safetensors\" = tensors("
                                            + stageDecls.keySet().iterator().next() + ")"
                                    : settings.containsKey("inputs")
                                            ? "output \"out.safetensors\" = tensors(out)"
                                            : "output \"samples.png\" = png(samples)"));
        }
        java.util.Set<String> results = new java.util.LinkedHashSet<>();
        for (PipelineSettings.Stage st : stages) {
            results.add(st.name());
            if (st instanceof PipelineSettings.ForwardStage f && f.inputs() != null) {
                results.addAll(f.inputs().names().keySet());
            }
        }
        java.util.Set<String> trained = new java.util.HashSet<>();
        java.util.Set<String> packed = new java.util.HashSet<>();
        for (PipelineSettings.Stage st : stages) {
            if (st instanceof PipelineSettings.TrainStage) {
                trained.add(st.name());
            } else if (st instanceof PipelineSettings.PackStage) {
                packed.add(st.name());
            }
        }
        for (PipelineSettings.Output o : outputs) {
            if (o == null) {
                continue;
            }
            for (String n : o.names()) {
                if (o.format().equals("weights") != trained.contains(n) && results.contains(n)) {
                    diagnostics.error(
                            o.span(),
                            o.format().equals("weights")
                                    ? "weights(" + n + ") writes a train stage's weights; '" + n + "' is not one"
                                    : "'" + n + "' is a train stage: write its weights with weights(" + n + ")");
                }
                if (packed.contains(n) && !o.format().equals("tensors")) {
                    diagnostics.error(
                            o.span(),
                            "'" + n + "' is a pack stage, rows of tokens: write them with tensors(" + n
                                    + "), or draw unpack(" + n + ")");
                }
                if (!results.contains(n) && diagnostics.errorCount() == errors) {
                    diagnostics.error(
                            o.span(),
                            "output names '" + n + "', which this pipeline does not produce ("
                                    + (staged ? "its stages: " : "it produces ") + String.join(", ", results) + ")");
                }
            }
        }
        if (diagnostics.errorCount() > errors) {
            return null;
        }
        return new Result(
                new PipelineSettings(
                        decl.name(),
                        stages,
                        seed,
                        outputs.stream().filter(java.util.Objects::nonNull).toList(),
                        staged,
                        decl.span()),
                models,
                samplingReader.samplers());
    }

    /** The slot form: one sampling stage named {@code samples}, or one forward stage named {@code out}. */
    private void oneStage(
            Ast.PipelineDecl decl,
            Map<String, Ast.Expr> settings,
            List<PipelineSettings.Stage> stages,
            Map<String, Ast.Call> models) {
        Ast.Call model = null;
        if (!(settings.get("model") instanceof Ast.Call c)) {
            diagnostics.error(
                    settings.containsKey("model") ? settings.get("model").span() : decl.span(),
                    settings.containsKey("model")
                            ? "model must be a model call such as DiT_XL_2(input_size = 32)"
                            : "pipeline '" + decl.name() + "' has no model: add  model = DiT_XL_2(input_size = 32)");
        } else {
            model = c;
        }
        PipelineSettings.Weights weights = weights(settings.get("weights"), decl.span());
        PipelineSettings.Inputs inputs = settings.containsKey("inputs") ? inputs(settings.get("inputs")) : null;
        String name;
        if (settings.containsKey("inputs")) {
            name = "out";
            for (String k : List.of(
                    "schedule",
                    "sampler",
                    "guidance",
                    "classes",
                    "latent",
                    "sizes",
                    "pack",
                    "context",
                    "context_frames",
                    "segments",
                    "interpolate")) {
                if (settings.containsKey(k)) {
                    diagnostics.error(
                            settings.get(k).span(),
                            "'" + k + "' has no effect in a forward pipeline (one with"
                                    + " 'inputs'); remove it or remove 'inputs' to sample");
                }
            }
            stages.add(new PipelineSettings.ForwardStage(name, weights, inputs, decl.span()));
        } else {
            name = "samples";
            stages.add(new PipelineSettings.SampleStage(
                    name,
                    weights,
                    samplingReader.read(name, settings, decl.span()),
                    List.of(),
                    null,
                    1.0,
                    decl.span()));
        }
        if (model != null) {
            models.put(name, model);
        }
    }

    /** One {@code let name = ...} stage; its inputs must name earlier stages. */
    private PipelineSettings.Stage stage(
            Ast.StageSetting st,
            List<PipelineSettings.Stage> earlier,
            Map<String, Ast.Call> models,
            Map<String, Ast.Expr> overrides) {
        if (!(st.value() instanceof Ast.Call c) || c.callee().size() != 1 || !STAGE_CALLS.contains(c.dotted())) {
            diagnostics.error(
                    st.value().span(),
                    "a stage is sample(...), train(...), decode(stage, model = ..., weights = ...),"
                            + " encode(...), classify(stage, model = ..., weights = ...), upsample(stage, factor),"
                            + " concat([stages], dim = 1), image(\"file.png\", size = 256), pack([stages], patch = 2,"
                            + " row = 256) or unpack(rows)"
                            + (st.value() instanceof Ast.Call c2
                                    ? Suggestions.didYouMean(c2.dotted(), STAGE_CALLS)
                                    : ""));
            return null;
        }
        List<String> names = earlier.stream().map(PipelineSettings.Stage::name).toList();
        switch (c.dotted()) {
            case "sample" -> {
                Map<String, Ast.Expr> args = values.named(c, SAMPLE_KEYS);
                if (args == null) {
                    return null;
                }
                for (Map.Entry<String, Ast.Expr> o : overrides.entrySet()) {
                    if (!SAMPLE_KEYS.contains(o.getKey())) {
                        diagnostics.error(
                                st.span(),
                                "--set " + st.name() + "." + o.getKey() + ": sample(...) has no '" + o.getKey() + "'"
                                        + Suggestions.didYouMean(o.getKey(), SAMPLE_KEYS));
                    } else {
                        args.put(o.getKey(), o.getValue());
                    }
                }
                if (!(args.get("model") instanceof Ast.Call model)) {
                    diagnostics.error(
                            args.containsKey("model") ? args.get("model").span() : c.span(),
                            "sample(...) needs model = a model call such as DiT(input_size = 8)");
                    return null;
                }
                models.put(st.name(), model);
                List<String> conditions = new ArrayList<>();
                if (args.containsKey("condition")) {
                    Ast.Expr cond = args.get("condition");
                    for (Ast.Expr e : cond instanceof Ast.ListLit l ? l.items() : List.of(cond)) {
                        String n = stageRef(e, names);
                        if (n != null) {
                            conditions.add(n);
                        }
                    }
                }
                String init = args.containsKey("init") ? stageRef(args.get("init"), names) : null;
                double strength = 1.0;
                if (args.containsKey("strength")) {
                    strength = values.number(args.get("strength"), "strength");
                    if (!args.containsKey("init")) {
                        diagnostics.error(args.get("strength").span(), "strength needs init = stage (img2img)");
                    } else if (!(strength > 0 && strength <= 1)) {
                        diagnostics.error(args.get("strength").span(), "strength must be in (0, 1], got " + strength);
                    }
                }
                PipelineSettings.Sampling sampling = samplingReader.read(st.name(), args, c.span());
                return new PipelineSettings.SampleStage(
                        st.name(),
                        weights(args.get("weights"), c.span()),
                        sampling,
                        conditions,
                        init,
                        strength,
                        st.span());
            }
            case "train" -> {
                Map<String, Ast.Expr> args = values.named(c, TRAIN_KEYS);
                if (args == null) {
                    return null;
                }
                for (Map.Entry<String, Ast.Expr> o : overrides.entrySet()) {
                    if (!TRAIN_KEYS.contains(o.getKey())) {
                        diagnostics.error(
                                st.span(),
                                "--set " + st.name() + "." + o.getKey() + ": train(...) has no '" + o.getKey() + "'"
                                        + Suggestions.didYouMean(o.getKey(), TRAIN_KEYS));
                    } else {
                        args.put(o.getKey(), o.getValue());
                    }
                }
                if (!(args.get("model") instanceof Ast.Call model)) {
                    diagnostics.error(
                            args.containsKey("model") ? args.get("model").span() : c.span(),
                            "train(...) needs model = a model call such as DiT(input_size = 32, in_channels = 1)");
                    return null;
                }
                models.put(st.name(), model);
                PipelineSettings.Training training = trainingReader.read(args, c.span());
                PipelineSettings.Weights start = weights(args.get("weights"), c.span());
                return training == null || start == null
                        ? null
                        : new PipelineSettings.TrainStage(st.name(), start, training, st.span());
            }
            case "decode", "encode", "classify" -> {
                // A second model applied to a stage's result: a VAE's decoder on latents, its encoder
                // on images, a classifier on samples.
                if (c.args().isEmpty() || c.args().get(0).name() != null) {
                    diagnostics.error(
                            c.span(),
                            c.dotted() + " takes the stage first: " + c.dotted()
                                    + "(samples, model = ..., weights = ...)");
                    return null;
                }
                String in = stageRef(c.args().get(0).value(), names);
                Map<String, Ast.Expr> args = new LinkedHashMap<>();
                Set<String> known = c.dotted().equals("classify")
                        ? Set.of("model", "weights")
                        : Set.of("model", "weights", "tile", "overlap");
                for (Ast.Arg a : c.args().subList(1, c.args().size())) {
                    if (a.name() == null || !known.contains(a.name())) {
                        diagnostics.error(
                                a.span(),
                                c.dotted() + "(stage, ...) takes model = ... and weights = ..."
                                        + (known.contains("tile") ? ", and tile = N, overlap = M for tiled runs" : ""));
                        return null;
                    }
                    args.put(a.name(), a.value());
                }
                args.putAll(overrides);
                if (!(args.get("model") instanceof Ast.Call model)) {
                    diagnostics.error(
                            args.containsKey("model") ? args.get("model").span() : c.span(),
                            c.dotted() + "(...) needs model = a model call");
                    return null;
                }
                models.put(st.name(), model);
                PipelineSettings.Weights w = weights(args.get("weights"), c.span());
                // Tiles in the input's pixels; a quarter of the tile overlaps by default, as diffusers'.
                long tile = args.containsKey("tile") ? values.integer(args.get("tile"), "tile") : 0;
                long overlap = args.containsKey("overlap") ? values.integer(args.get("overlap"), "overlap") : tile / 4;
                if (args.containsKey("tile") && (tile < 1 || tile > 1 << 16)) {
                    diagnostics.error(args.get("tile").span(), "tile must be in 1..65536 pixels, got " + tile);
                } else if (args.containsKey("overlap") && !args.containsKey("tile")) {
                    diagnostics.error(args.get("overlap").span(), "overlap needs tile = N");
                } else if (overlap < 0 || (tile > 0 && overlap >= tile)) {
                    diagnostics.error(
                            args.get("overlap").span(),
                            "overlap must be in 0.." + (tile - 1) + " (less than the tile), got " + overlap);
                }
                return in == null
                        ? null
                        : new PipelineSettings.ApplyStage(
                                st.name(), c.dotted(), in, w, (int) tile, (int) overlap, st.span());
            }
            case "image" -> {
                // img2img's input: an image file as a batch of one [1, 3, H, W] in [−1, 1]
                Map<String, Ast.Expr> args = values.positionalOrNamed(c, List.of("path", "size"));
                if (args == null || !(args.get("path") instanceof Ast.StringLit p)) {
                    diagnostics.error(c.span(), "image takes a file: image(\"photo.png\", size = 256)");
                    return null;
                }
                Path path = values.file(p.value(), p.span());
                long size = args.containsKey("size") ? values.integer(args.get("size"), "image size") : 0;
                if (size < 0 || size > 16384) {
                    diagnostics.error(args.get("size").span(), "image size must be in 1..16384 pixels, got " + size);
                }
                return path == null ? null : new PipelineSettings.ImageStage(st.name(), path, (int) size, st.span());
            }
            case "upsample" -> {
                Map<String, Ast.Expr> args = values.positionalOrNamed(c, List.of("x", "factor", "axes"));
                if (args == null || !args.containsKey("x") || !args.containsKey("factor")) {
                    diagnostics.error(
                            c.span(),
                            "upsample takes a stage and an integer factor: upsample(base, 2),"
                                    + " upsample(video, 2, axes = \"time\")");
                    return null;
                }
                String axes = "space";
                if (args.containsKey("axes")) {
                    if (args.get("axes") instanceof Ast.StringLit a
                            && List.of("space", "time", "spacetime").contains(a.value())) {
                        axes = a.value();
                    } else {
                        diagnostics.error(
                                args.get("axes").span(),
                                "axes must be \"space\" (H and W), \"time\" (F of"
                                        + " [N, F, C, H, W]) or \"spacetime\"");
                    }
                }
                String in = stageRef(args.get("x"), names);
                long factor = values.integer(args.get("factor"), "upsample factor");
                if (factor < 1 || factor > 64) {
                    diagnostics.error(args.get("factor").span(), "upsample factor must be in 1..64, got " + factor);
                }
                return in == null
                        ? null
                        : new PipelineSettings.UpsampleStage(st.name(), in, (int) factor, axes, st.span());
            }
            case "pack" -> {
                return pack(st, c, names);
            }
            case "unpack" -> {
                Map<String, Ast.Expr> args = values.positionalOrNamed(c, List.of("rows"));
                if (args == null || !args.containsKey("rows")) {
                    diagnostics.error(c.span(), "unpack takes a pack stage: unpack(rows)");
                    return null;
                }
                String in = stageRef(args.get("rows"), names);
                if (in != null && !(earlier.get(names.indexOf(in)) instanceof PipelineSettings.PackStage)) {
                    diagnostics.error(args.get("rows").span(), "unpack takes a pack stage; '" + in + "' is not one");
                    return null;
                }
                return in == null ? null : new PipelineSettings.UnpackStage(st.name(), in, st.span());
            }
            default -> {
                Map<String, Ast.Expr> args = values.positionalOrNamed(c, List.of("xs", "dim"));
                if (args == null
                        || !(args.get("xs") instanceof Ast.ListLit l)
                        || l.items().isEmpty()) {
                    diagnostics.error(
                            c.span(), "concat takes a list of stages and a dimension: concat([a, b], dim = 1)");
                    return null;
                }
                List<String> ins = new ArrayList<>();
                for (Ast.Expr e : l.items()) {
                    String n = stageRef(e, names);
                    if (n != null) {
                        ins.add(n);
                    }
                }
                long dim = args.containsKey("dim") ? values.integer(args.get("dim"), "concat dim") : 1;
                if (dim < 0 || dim > 7) {
                    diagnostics.error(args.get("dim").span(), "concat dim must be in 0..7, got " + dim);
                }
                return new PipelineSettings.ConcatStage(st.name(), ins, (int) dim, st.span());
            }
        }
    }

    /**
     * {@code pack([a, b], patch = 2, frames = 1, row = 256, drop = similar(0.95), seed = 0)}: the
     * examples of earlier stages packed into rows (a single stage may stand without brackets).
     */
    private PipelineSettings.Stage pack(Ast.StageSetting st, Ast.Call c, List<String> names) {
        Map<String, Ast.Expr> args =
                values.positionalOrNamed(c, List.of("xs", "patch", "frames", "row", "drop", "seed"));
        if (args == null || !args.containsKey("xs") || !args.containsKey("patch") || !args.containsKey("row")) {
            diagnostics.error(
                    c.span(),
                    "pack takes stages, a patch size and a row length: pack([images, clips], patch = 2, row = 256),"
                            + " with frames = 2 for patches two frames deep and drop = random(rate) or"
                            + " similar(threshold) to leave patches out");
            return null;
        }
        List<String> ins = new ArrayList<>();
        List<Ast.Expr> items = args.get("xs") instanceof Ast.ListLit l ? l.items() : List.of(args.get("xs"));
        for (Ast.Expr e : items) {
            String n = stageRef(e, names);
            if (n != null) {
                ins.add(n);
            }
        }
        if (items.isEmpty()) {
            diagnostics.error(args.get("xs").span(), "pack needs at least one stage");
        }
        int patch = values.count(args.get("patch"), "patch", 1, 1024);
        int frames = args.containsKey("frames") ? values.count(args.get("frames"), "frames", 1, 1024) : 1;
        int row = values.count(args.get("row"), "row", 1, 1 << 20);
        PipelineSettings.Dropping drop = args.containsKey("drop") ? trainingReader.dropping(args.get("drop")) : null;
        long seed = args.containsKey("seed") ? values.integer(args.get("seed"), "seed") : 0;
        return ins.size() < items.size() || items.isEmpty()
                ? null
                : new PipelineSettings.PackStage(st.name(), ins, patch, frames, row, drop, seed, st.span());
    }

    /** A reference to an earlier stage's result, or null after reporting what is wrong with it. */
    private String stageRef(Ast.Expr e, List<String> earlier) {
        if (e instanceof Ast.Name n && n.path().size() == 1 && earlier.contains(n.dotted())) {
            return n.dotted();
        }
        String what = e instanceof Ast.Name n ? "'" + n.dotted() + "'" : "this";
        diagnostics.error(
                e.span(),
                what + " is not an earlier stage"
                        + (e instanceof Ast.Name n ? Suggestions.didYouMean(n.dotted(), earlier) : "")
                        + (earlier.isEmpty()
                                ? " (no stage comes before it)"
                                : " (earlier stages: " + String.join(", ", earlier) + ")"));
        return null;
    }

    private PipelineSettings.Weights weights(Ast.Expr e, Span pipelineSpan) {
        if (e == null) {
            diagnostics.error(
                    pipelineSpan,
                    "pipeline has no weights: add  weights = \"model.safetensors\"  or"
                            + "  weights = random(seed = 0)");
            return null;
        }
        if (e instanceof Ast.StringLit s) {
            Path path = values.file(s.value(), s.span());
            return path == null ? null : new PipelineSettings.Checkpoint(path, s.span());
        }
        if (e instanceof Ast.Call c
                && (c.dotted().equals("random") || c.dotted().equals("init"))) {
            Map<String, Ast.Expr> args = values.named(c, Set.of("seed", "std", "from", "rename"));
            if (args == null) {
                return null;
            }
            long seed = args.containsKey("seed") ? values.integer(args.get("seed"), c.dotted() + "(seed)") : 0;
            double std = args.containsKey("std") ? values.number(args.get("std"), c.dotted() + "(std)") : 0.02;
            Path from = null;
            if (args.get("from") instanceof Ast.StringLit f) {
                from = values.file(f.value(), f.span());
            } else if (args.containsKey("from")) {
                diagnostics.error(
                        args.get("from").span(),
                        "from = \"file.safetensors\": the weights to start from where the file has them");
            }
            List<PipelineSettings.Rename> rename = List.of();
            if (args.containsKey("rename")) {
                rename = renames(args.get("rename"));
                if (rename == null) {
                    return null;
                }
                if (!args.containsKey("from")) {
                    diagnostics.error(
                            args.get("rename").span(),
                            "rename maps the keys of " + c.dotted() + "(from = ...): give the file");
                    return null;
                }
            }
            return new PipelineSettings.RandomWeights(seed, std, c.dotted().equals("init"), from, rename, c.span());
        }
        diagnostics.error(
                e.span(),
                "weights must be a file path in quotes (safetensors, or a PyTorch .pt/.pth/.bin checkpoint),"
                        + " random(seed = n) (N(0, 0.02²) each) or init(seed = n)"
                        + " (as the model declares its weights start)");
        return null;
    }

    /** {@code rename = [["file.prefix.", "model.prefix."], ...]}, or null after an error. */
    private List<PipelineSettings.Rename> renames(Ast.Expr e) {
        String usage = "rename takes pairs of key prefixes, the file's then the model's:"
                + " [[\"blocks.1.\", \"blocks.2.\"], ...]";
        if (!(e instanceof Ast.ListLit l)) {
            diagnostics.error(e.span(), usage);
            return null;
        }
        List<PipelineSettings.Rename> out = new ArrayList<>();
        for (Ast.Expr item : l.items()) {
            if (!(item instanceof Ast.ListLit pair)
                    || pair.items().size() != 2
                    || !(pair.items().get(0) instanceof Ast.StringLit from)
                    || !(pair.items().get(1) instanceof Ast.StringLit to)
                    || from.value().isEmpty()) {
                diagnostics.error(item.span(), usage);
                return null;
            }
            out.add(new PipelineSettings.Rename(from.value(), to.value(), item.span()));
        }
        return out;
    }

    private PipelineSettings.Inputs inputs(Ast.Expr e) {
        if (!(e instanceof Ast.Call c)
                || !c.dotted().equals("load")
                || c.args().isEmpty()
                || c.args().get(0).name() != null
                || !(c.args().get(0).value() instanceof Ast.StringLit file)) {
            diagnostics.error(e.span(), "inputs must be load(\"file.safetensors\", x = \"key\", ...)");
            return null;
        }
        Map<String, String> names = new LinkedHashMap<>();
        for (Ast.Arg a : c.args().subList(1, c.args().size())) {
            if (a.name() == null || !(a.value() instanceof Ast.StringLit key)) {
                diagnostics.error(a.span(), "load(...) maps forward inputs to tensor names: x = \"forward.x\"");
                return null;
            }
            names.put(a.name(), key.value());
        }
        Path path = values.file(file.value(), file.span());
        return path == null ? null : new PipelineSettings.Inputs(path, names, c.span());
    }

    private Ast.Expr parseOverride(String key, String value, Span span) {
        Diagnostics local = new Diagnostics();
        String text = "pipeline p { " + key + " = " + value + " }";
        Ast.SourceFile f = org.tessera.dsl.parser.TesseraParserFacade.parse("--set " + key + "=" + value, text, local);
        if (local.hasErrors() || f.declarations().isEmpty()) {
            diagnostics.error(span, "--set " + key + "=" + value + ": not a valid value");
            return null;
        }
        Ast.PipelineDecl p = (Ast.PipelineDecl) f.declarations().get(0);
        return ((Ast.AssignSetting) p.settings().get(0)).value();
    }

    private static String didYouMean(String key) {
        return Suggestions.didYouMean(key, KEYS);
    }
}
