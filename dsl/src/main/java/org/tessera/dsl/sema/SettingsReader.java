package org.tessera.dsl.sema;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.tessera.dsl.ast.Ast;
import org.tessera.dsl.diag.Diagnostics;
import org.tessera.dsl.diag.Span;
import org.tessera.dsl.pipeline.PipelineSettings;
import org.tessera.engine.diffusion.Respacing;
import org.tessera.engine.diffusion.Schedules;

/**
 * Reads a {@code pipeline { ... }} declaration into {@link PipelineSettings}, reporting unknown
 * settings, wrong types and missing pieces at their source positions.
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
            "sizes",
            "pack");
    private static final Set<String> FORMATS = Set.of("tensors", "png", "grid", "preview", "video", "weights");
    /** The rectified-flow schedule (flow matching): not a β schedule. */
    private static final String FLOW = "flow";

    private final Diagnostics diagnostics;
    /** The sampler call of each sample stage, by stage name. */
    private final Map<String, Ast.Call> samplers = new LinkedHashMap<>();

    private final Path baseDir;
    private final Map<String, String> overrides;

    /**
     * @param baseDir where relative paths in the script resolve (the script's folder)
     * @param overrides {@code --set key=value} pairs, applied over the script's settings
     */
    public SettingsReader(Diagnostics diagnostics, Path baseDir, Map<String, String> overrides) {
        this.diagnostics = diagnostics;
        this.baseDir = baseDir;
        this.overrides = overrides;
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
            "seed",
            "checkpoint",
            "freeze",
            "objective",
            "test",
            "sample_every",
            "sizes",
            "pack",
            "drop");

    /**
     * What a train stage minimises: {@code diffusion} (the default: L_simple, plus the variational
     * bound for a learned range of variances, as DiT's create_diffusion chooses), {@code simple},
     * {@code hybrid}, or a classifier's cross-entropy.
     */
    private static final List<String> OBJECTIVES = List.of("diffusion", "simple", "hybrid", "classify");

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
                case Ast.OutputSetting o -> outputs.add(output(o));
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
        long seed = settings.containsKey("seed") ? integer(settings.get("seed"), "seed") : 0;
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
                samplers);
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
            for (String k : List.of("schedule", "sampler", "guidance", "classes", "latent", "sizes", "pack")) {
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
                    name, weights, sampling(name, settings, decl.span()), List.of(), null, 1.0, decl.span()));
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
                Map<String, Ast.Expr> args = named(c, SAMPLE_KEYS);
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
                    strength = number(args.get("strength"), "strength");
                    if (!args.containsKey("init")) {
                        diagnostics.error(args.get("strength").span(), "strength needs init = stage (img2img)");
                    } else if (!(strength > 0 && strength <= 1)) {
                        diagnostics.error(args.get("strength").span(), "strength must be in (0, 1], got " + strength);
                    }
                }
                PipelineSettings.Sampling sampling = sampling(st.name(), args, c.span());
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
                Map<String, Ast.Expr> args = named(c, TRAIN_KEYS);
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
                PipelineSettings.Training training = training(args, c.span());
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
                long tile = args.containsKey("tile") ? integer(args.get("tile"), "tile") : 0;
                long overlap = args.containsKey("overlap") ? integer(args.get("overlap"), "overlap") : tile / 4;
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
                Map<String, Ast.Expr> args = positionalOrNamed(c, List.of("path", "size"));
                if (args == null || !(args.get("path") instanceof Ast.StringLit p)) {
                    diagnostics.error(c.span(), "image takes a file: image(\"photo.png\", size = 256)");
                    return null;
                }
                Path path = file(p.value(), p.span());
                long size = args.containsKey("size") ? integer(args.get("size"), "image size") : 0;
                if (size < 0 || size > 16384) {
                    diagnostics.error(args.get("size").span(), "image size must be in 1..16384 pixels, got " + size);
                }
                return path == null ? null : new PipelineSettings.ImageStage(st.name(), path, (int) size, st.span());
            }
            case "upsample" -> {
                Map<String, Ast.Expr> args = positionalOrNamed(c, List.of("x", "factor", "axes"));
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
                long factor = integer(args.get("factor"), "upsample factor");
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
                Map<String, Ast.Expr> args = positionalOrNamed(c, List.of("rows"));
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
                Map<String, Ast.Expr> args = positionalOrNamed(c, List.of("xs", "dim"));
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
                long dim = args.containsKey("dim") ? integer(args.get("dim"), "concat dim") : 1;
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
        Map<String, Ast.Expr> args = positionalOrNamed(c, List.of("xs", "patch", "frames", "row", "drop", "seed"));
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
        int patch = count(args.get("patch"), "patch", 1, 1024);
        int frames = args.containsKey("frames") ? count(args.get("frames"), "frames", 1, 1024) : 1;
        int row = count(args.get("row"), "row", 1, 1 << 20);
        PipelineSettings.Dropping drop = args.containsKey("drop") ? dropping(args.get("drop")) : null;
        long seed = args.containsKey("seed") ? integer(args.get("seed"), "seed") : 0;
        return ins.size() < items.size() || items.isEmpty()
                ? null
                : new PipelineSettings.PackStage(st.name(), ins, patch, frames, row, drop, seed, st.span());
    }

    /** {@code load("file.safetensors", "key")}: one tensor of a file, e.g. a starting noise x_T. */
    private PipelineSettings.TensorRef tensorRef(Ast.Expr e, String what) {
        if (e instanceof Ast.Call c
                && c.dotted().equals("load")
                && c.args().size() == 2
                && c.args().get(0).name() == null
                && c.args().get(1).name() == null
                && c.args().get(0).value() instanceof Ast.StringLit file
                && c.args().get(1).value() instanceof Ast.StringLit key) {
            Path path = file(file.value(), file.span());
            return path == null ? null : new PipelineSettings.TensorRef(path, key.value(), c.span());
        }
        diagnostics.error(e.span(), what + " must be load(\"file.safetensors\", \"tensor name\")");
        return null;
    }

    /**
     * Whether an output name stays under {@code --out}: relative, no {@code ..} part, not empty.
     * An absolute path or one that climbs out could overwrite anything, the pipeline's own
     * weights included.
     */
    static boolean insideOutputFolder(String file) {
        if (file.isEmpty() || file.startsWith("/") || file.startsWith("\\") || file.contains("\0")) {
            return false;
        }
        try {
            java.nio.file.Path p = java.nio.file.Path.of(file);
            if (p.isAbsolute() || p.getRoot() != null) {
                return false;
            }
            for (java.nio.file.Path part : p) {
                if (part.toString().equals("..")) {
                    return false;
                }
            }
            return true;
        } catch (java.nio.file.InvalidPathException e) {
            return false;
        }
    }

    /** A train stage's settings, or null after reporting what is wrong. */
    private PipelineSettings.Training training(Map<String, Ast.Expr> a, Span span) {
        int before = diagnostics.errorCount();
        int[][] sizes = a.containsKey("sizes") ? sizes(a.get("sizes"), null) : null;
        if (sizes != null && java.util.Arrays.stream(sizes).anyMatch(x -> x.length != 2 && x.length != 3)) {
            diagnostics.error(a.get("sizes").span(), "a training size is [H, W] (an image) or [F, H, W] (a clip)");
        }
        int pack = 0;
        if (a.containsKey("pack")) {
            long n = integer(a.get("pack"), "pack");
            if (n < 1 || n > 1 << 20) {
                diagnostics.error(a.get("pack").span(), "pack must be a row length of 1..1048576 tokens, got " + n);
            } else {
                pack = (int) n;
            }
        }
        PipelineSettings.Dropping drop = a.containsKey("drop") ? dropping(a.get("drop")) : null;
        String objective = "diffusion";
        if (a.get("objective") instanceof Ast.StringLit o && OBJECTIVES.contains(o.value())) {
            objective = o.value();
        } else if (a.containsKey("objective")) {
            diagnostics.error(
                    a.get("objective").span(),
                    "objective is \"diffusion\" (the default: L_simple, with the variational bound for a learned"
                            + " variance), \"simple\" (L_simple), \"hybrid\" (L_simple + L_vlb) or \"classify\" (a"
                            + " classifier's cross-entropy)");
        }
        boolean classify = objective.equals("classify");
        for (String k : List.of("schedule", "label_dropout", "sample_every", "sizes", "pack", "drop", "snr_gamma")) {
            if (classify && a.containsKey(k)) {
                diagnostics.error(
                        a.get(k).span(),
                        k + " is a setting of diffusion training; a classifier (objective ="
                                + " \"classify\") has none");
            }
        }
        PipelineSettings.Dataset test = null;
        if (a.get("test") instanceof Ast.Call d && DATA_CALLS.contains(d.dotted()) && classify) {
            test = dataset(d);
        } else if (a.containsKey("test")) {
            diagnostics.error(
                    a.get("test").span(),
                    classify
                            ? "test = idx(\"t10k-images-idx3-ubyte.gz\", labels = \"t10k-labels-idx1-ubyte.gz\","
                                    + " pad = 2): the held-out data a classifier's accuracy is measured on"
                            : "test data measures a classifier (objective = \"classify\"); diffusion training has"
                                    + " no test metric yet");
        }
        PipelineSettings.Dataset data = null;
        if (a.get("data") instanceof Ast.Call m && m.dotted().equals("mix") && !classify) {
            data = mix(m);
        } else if (!(a.get("data") instanceof Ast.Call d) || !DATA_CALLS.contains(d.dotted())) {
            diagnostics.error(
                    a.containsKey("data") ? a.get("data").span() : span,
                    "train(...) needs data = idx(\"train-images-idx3-ubyte.gz\", labels ="
                            + " \"train-labels-idx1-ubyte.gz\", pad = 2), images(\"folder\", crop = \"random\","
                            + " flip = true) or moving_mnist(\"train-images-idx3-ubyte\", labels ="
                            + " \"train-labels-idx1-ubyte\", digits = 2), or a mix(...) of them for a packed model");
        } else {
            data = dataset(d);
        }
        ScheduleSetting schedule = schedule(a.get("schedule"));
        double lr = 1e-4;
        long warmup = 0;
        boolean cosine = false;
        double decay = 0;
        if (a.get("optimizer") instanceof Ast.Call o && o.dotted().equals("adamw")) {
            Map<String, Ast.Expr> args = named(o, Set.of("lr", "weight_decay", "warmup", "decay"));
            if (args != null) {
                lr = args.containsKey("lr") ? number(args.get("lr"), "lr") : lr;
                decay = args.containsKey("weight_decay") ? number(args.get("weight_decay"), "weight_decay") : 0;
                warmup = args.containsKey("warmup")
                        ? count(args.get("warmup"), "warmup", 0, Limits.MAX_TRAINING_STEPS)
                        : 0;
                if (args.get("decay") instanceof Ast.StringLit k
                        && Set.of("constant", "cosine").contains(k.value())) {
                    cosine = k.value().equals("cosine");
                } else if (args.containsKey("decay")) {
                    diagnostics.error(args.get("decay").span(), "decay is \"constant\" or \"cosine\"");
                }
                if (!(lr > 0 && lr < 1) || decay < 0) {
                    diagnostics.error(o.span(), "adamw needs 0 < lr < 1 and weight_decay ≥ 0");
                }
            }
        } else if (a.containsKey("optimizer")) {
            diagnostics.error(
                    a.get("optimizer").span(),
                    "optimizer is adamw(lr = 1e-4, weight_decay = 0.0, warmup = 0, decay = \"constant\")");
        }
        int batch = a.containsKey("batch") ? count(a.get("batch"), "batch", 1, 4096) : 32;
        long steps = a.containsKey("steps") ? count(a.get("steps"), "steps", 1, Limits.MAX_TRAINING_STEPS) : 1000;
        double clip = a.containsKey("clip") ? number(a.get("clip"), "clip") : 1.0;
        double ema = a.containsKey("ema") ? number(a.get("ema"), "ema") : 0.9999;
        double dropout = a.containsKey("label_dropout") ? number(a.get("label_dropout"), "label_dropout") : 0.1;
        if (!(clip > 0)) {
            diagnostics.error(a.get("clip").span(), "clip must be a positive gradient norm, got " + clip);
        }
        if (!(ema >= 0 && ema < 1)) {
            diagnostics.error(a.get("ema").span(), "ema must be a decay in [0, 1), got " + ema);
        }
        if (!(dropout >= 0 && dropout <= 1)) {
            diagnostics.error(a.get("label_dropout").span(), "label_dropout must be a probability, got " + dropout);
        }
        double snrGamma = a.containsKey("snr_gamma") ? number(a.get("snr_gamma"), "snr_gamma") : 0;
        if (a.containsKey("snr_gamma") && !(snrGamma > 0 && snrGamma < 1e6)) {
            diagnostics.error(
                    a.get("snr_gamma").span(),
                    "snr_gamma must be positive (Min-SNR's γ, 5 in its paper), got " + snrGamma);
        } else if (a.containsKey("snr_gamma") && schedule.kind().equals("flow")) {
            diagnostics.error(
                    a.get("snr_gamma").span(),
                    "snr_gamma weights a diffusion schedule's noise levels; a flow's training has no such weighting here");
        }
        long seed = a.containsKey("seed") ? integer(a.get("seed"), "seed") : 0;
        long every = a.containsKey("checkpoint")
                ? count(a.get("checkpoint"), "checkpoint", 1, Limits.MAX_TRAINING_STEPS)
                : 1000;
        long sampleEvery = a.containsKey("sample_every")
                ? count(a.get("sample_every"), "sample_every", 1, Limits.MAX_TRAINING_STEPS)
                : 0;
        List<String> freeze = new ArrayList<>();
        if (a.get("freeze") instanceof Ast.ListLit l) {
            for (Ast.Expr e : l.items()) {
                if (e instanceof Ast.StringLit p) {
                    freeze.add(p.value());
                } else {
                    diagnostics.error(e.span(), "freeze takes weight-name patterns: [\"blocks.*\", \"pos_embed\"]");
                }
            }
        } else if (a.containsKey("freeze")) {
            diagnostics.error(
                    a.get("freeze").span(), "freeze takes a list of weight-name patterns, e.g. [\"blocks.*\"]");
        }
        if (diagnostics.errorCount() > before) {
            return null;
        }
        return new PipelineSettings.Training(
                objective,
                data,
                test,
                schedule.kind(),
                schedule.steps(),
                schedule.shift(),
                batch,
                steps,
                lr,
                warmup,
                cosine,
                decay,
                clip,
                ema,
                dropout,
                seed,
                every,
                sampleEvery,
                freeze,
                sizes,
                pack,
                drop,
                snrGamma,
                span);
    }

    /** {@code random(rate)} or {@code similar(threshold)}: a packed training's token dropping. */
    private PipelineSettings.Dropping dropping(Ast.Expr e) {
        if (e instanceof Ast.Call c && Set.of("random", "similar").contains(c.dotted())) {
            boolean similar = c.dotted().equals("similar");
            String what = similar ? "threshold" : "rate";
            Map<String, Ast.Expr> args = positionalOrNamed(c, List.of(what));
            if (args == null) {
                return null;
            }
            if (!args.containsKey(what)) {
                diagnostics.error(c.span(), c.dotted() + "(...) needs its " + what);
                return null;
            }
            double v = number(args.get(what), what);
            boolean ok = similar ? v > -1 && v <= 1 : v >= 0 && v < 1;
            if (!ok) {
                diagnostics.error(
                        args.get(what).span(),
                        similar
                                ? "a similarity threshold is in (−1, 1], got " + v
                                : "a drop rate is in [0, 1), got " + v);
                return null;
            }
            return new PipelineSettings.Dropping(similar, v);
        }
        diagnostics.error(
                e.span(),
                "drop is random(rate), each patch left out with that probability, or similar(threshold), a clip's"
                        + " patch left out when its cosine similarity to the patch last kept at its place exceeds the threshold");
        return null;
    }

    /** The calls that give a train stage's data. */
    private static final Set<String> DATA_CALLS = Set.of("idx", "images", "moving_mnist");

    /** {@code mix(idx(...), moving_mnist(...), ...)}: two or more data calls, nothing else; null after an error. */
    private PipelineSettings.Dataset mix(Ast.Call m) {
        List<PipelineSettings.Dataset> parts = new ArrayList<>();
        for (Ast.Arg arg : m.args()) {
            if (arg.name() == null && arg.value() instanceof Ast.Call d && DATA_CALLS.contains(d.dotted())) {
                PipelineSettings.Dataset part = dataset(d);
                if (part == null) {
                    return null;
                }
                parts.add(part);
            } else {
                diagnostics.error(
                        arg.span(), "mix(...) takes data calls, e.g. mix(idx(...), moving_mnist(...)), nothing else");
                return null;
            }
        }
        if (parts.size() < 2) {
            diagnostics.error(m.span(), "mix(...) mixes two or more data sets; give the one as it is");
            return null;
        }
        return new PipelineSettings.MixedData(parts, m.span());
    }

    /** {@code idx(...)}, {@code images(...)} or {@code moving_mnist(...)}. */
    private PipelineSettings.Dataset dataset(Ast.Call d) {
        return switch (d.dotted()) {
            case "idx" -> idx(d);
            case "moving_mnist" -> movingMnist(d);
            default -> imageFolder(d);
        };
    }

    /** {@code moving_mnist("train-images-idx3-ubyte", labels = "train-labels-idx1-ubyte", digits = 2)}. */
    private PipelineSettings.Dataset movingMnist(Ast.Call d) {
        String usage = "moving_mnist(\"train-images-idx3-ubyte\", labels = \"train-labels-idx1-ubyte\", digits = 2)";
        if (d.args().isEmpty()
                || d.args().get(0).name() != null
                || !(d.args().get(0).value() instanceof Ast.StringLit images)) {
            diagnostics.error(d.span(), "moving_mnist(...) takes MNIST's images file first: " + usage);
            return null;
        }
        Ast.StringLit labels = null;
        int digits = 2;
        int frame = 0;
        for (Ast.Arg arg : d.args().subList(1, d.args().size())) {
            if ("labels".equals(arg.name()) && arg.value() instanceof Ast.StringLit l) {
                labels = l;
            } else if ("digits".equals(arg.name())) {
                digits = (int) count(arg.value(), "digits", 1, 8);
            } else if ("frame".equals(arg.name())) {
                frame = (int) count(arg.value(), "frame", 28, 1024);
            } else {
                diagnostics.error(
                        arg.span(), "moving_mnist(images, ...) takes labels = \"file\", digits = N and frame = side");
                return null;
            }
        }
        if (labels == null) {
            diagnostics.error(d.span(), "moving_mnist(...) needs labels: " + usage);
            return null;
        }
        Path imagesPath = file(images.value(), images.span());
        Path labelsPath = file(labels.value(), labels.span());
        return imagesPath == null || labelsPath == null
                ? null
                : new PipelineSettings.MovingMnistData(imagesPath, labelsPath, digits, frame, d.span());
    }

    /** {@code images("folder", crop = "random", flip = false)}. */
    private PipelineSettings.Dataset imageFolder(Ast.Call d) {
        if (d.args().isEmpty()
                || d.args().get(0).name() != null
                || !(d.args().get(0).value() instanceof Ast.StringLit folder)) {
            diagnostics.error(d.span(), "images(...) takes the folder first: images(\"train/\", crop = \"random\")");
            return null;
        }
        boolean random = true;
        boolean flip = false;
        for (Ast.Arg arg : d.args().subList(1, d.args().size())) {
            if ("crop".equals(arg.name())
                    && arg.value() instanceof Ast.StringLit c
                    && Set.of("random", "center").contains(c.value())) {
                random = c.value().equals("random");
            } else if ("flip".equals(arg.name()) && arg.value() instanceof Ast.BoolLit b) {
                flip = b.value();
            } else {
                diagnostics.error(
                        arg.span(), "images(folder, ...) takes crop = \"random\" | \"center\" and flip = true | false");
                return null;
            }
        }
        Path path = file(folder.value(), folder.span());
        return path == null ? null : new PipelineSettings.ImageFolderData(path, random, flip, d.span());
    }

    /** {@code idx("images", labels = "labels", pad = 2, flip = false)}. */
    private PipelineSettings.Dataset idx(Ast.Call d) {
        if (d.args().isEmpty()
                || d.args().get(0).name() != null
                || !(d.args().get(0).value() instanceof Ast.StringLit images)) {
            diagnostics.error(
                    d.span(),
                    "idx(...) takes the images file first: idx(\"train-images-idx3-ubyte.gz\", labels = ...)");
            return null;
        }
        Map<String, Ast.Expr> args = new LinkedHashMap<>();
        for (Ast.Arg arg : d.args().subList(1, d.args().size())) {
            if (arg.name() == null || !Set.of("labels", "pad", "flip").contains(arg.name())) {
                diagnostics.error(
                        arg.span(), "idx(images, ...) takes labels = \"file\", pad = N and flip = true|false");
                return null;
            }
            args.put(arg.name(), arg.value());
        }
        if (!(args.get("labels") instanceof Ast.StringLit labels)) {
            diagnostics.error(d.span(), "idx(...) needs labels = \"train-labels-idx1-ubyte.gz\"");
            return null;
        }
        int pad = args.containsKey("pad") ? count(args.get("pad"), "pad", 0, 64) : 0;
        boolean flip = false;
        if (args.get("flip") instanceof Ast.BoolLit b) {
            flip = b.value();
        } else if (args.containsKey("flip")) {
            diagnostics.error(args.get("flip").span(), "flip must be true or false");
        }
        Path imagesPath = file(images.value(), images.span());
        Path labelsPath = file(labels.value(), labels.span());
        return imagesPath == null || labelsPath == null
                ? null
                : new PipelineSettings.IdxData(imagesPath, labelsPath, pad, flip, d.span());
    }

    /** {@code name} against the script's folder, or null after reporting a name no file can have. */
    private Path file(String name, Span span) {
        try {
            return baseDir.resolve(name).normalize();
        } catch (java.nio.file.InvalidPathException e) {
            diagnostics.error(
                    span,
                    "\"" + name.replace("\0", "\\0") + "\" is not a valid file name here (" + e.getReason() + ")");
            return null;
        }
    }

    /** Whether the file system's encoding (the locale's) can spell {@code file}. */
    static boolean fileNameEncodable(String file) {
        if (file.contains("\0")) {
            return true; // not an encoding matter: insideOutputFolder refuses it
        }
        try {
            java.nio.file.Path.of(file);
            return true;
        } catch (java.nio.file.InvalidPathException e) {
            return false;
        }
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

    private PipelineSettings.Output output(Ast.OutputSetting o) {
        if (!(o.value() instanceof Ast.Call c) || c.callee().size() != 1 || !FORMATS.contains(c.dotted())) {
            diagnostics.error(
                    o.value().span(),
                    "an output is tensors(...), png(...), grid(...), preview(...), video(...) or weights(...)");
            return null;
        }
        List<String> names = new ArrayList<>();
        boolean tiled = c.dotted().equals("grid") || c.dotted().equals("preview");
        boolean video = c.dotted().equals("video");
        int columns = 0;
        int scale = 1;
        int fps = video ? 8 : 0;
        List<String> labels = null;
        boolean averaged = true;
        for (Ast.Arg a : c.args()) {
            if (c.dotted().equals("grid") && "labels".equals(a.name())) {
                // labels = true: each sample's class number; labels = ["T-shirt", ...]: names by class
                if (a.value() instanceof Ast.BoolLit b) {
                    labels = b.value() ? List.of() : null;
                } else if (a.value() instanceof Ast.ListLit l
                        && l.items().stream().allMatch(Ast.StringLit.class::isInstance)) {
                    labels = l.items().stream()
                            .map(x -> ((Ast.StringLit) x).value())
                            .toList();
                } else {
                    diagnostics.error(
                            a.value().span(),
                            "labels = true (the class numbers) or a list of names by class, [\"T-shirt\", ...]");
                    return null;
                }
            } else if (tiled && "columns".equals(a.name())) {
                columns = (int) count(a.value(), "columns", 1, 4096);
            } else if ((tiled || video) && "scale".equals(a.name())) {
                scale = (int) count(a.value(), "scale", 1, 16);
            } else if (video && "fps".equals(a.name())) {
                fps = (int) count(a.value(), "fps", 1, 100);
            } else if (c.dotted().equals("weights") && "ema".equals(a.name())) {
                if (!(a.value() instanceof Ast.BoolLit b)) {
                    diagnostics.error(
                            a.value().span(),
                            "ema = true (the moving average, the default) or false (the weights the run ends with)");
                    return null;
                }
                averaged = b.value();
            } else if (a.name() != null || !(a.value() instanceof Ast.Name n)) {
                diagnostics.error(
                        a.span(),
                        c.dotted() + "(...) takes result names, e.g. " + c.dotted() + "(samples)"
                                + (tiled ? ", and columns = N and scale = N (pixels per sample pixel)" : "")
                                + (c.dotted().equals("grid") ? ", and labels = true or [names by class]" : "")
                                + (video ? ", and fps = N (default 8) and scale = N (pixels per sample pixel)" : "")
                                + (c.dotted().equals("weights")
                                        ? ", and ema = false for the weights the run ends with"
                                        : ""));
                return null;
            } else {
                names.add(n.dotted());
            }
        }
        if (names.isEmpty() || (!c.dotted().equals("tensors") && names.size() != 1)) {
            diagnostics.error(
                    c.span(),
                    c.dotted() + "(...) takes "
                            + (c.dotted().equals("tensors") ? "one or more result names" : "exactly one result name"));
            return null;
        }
        String expectedExt = Set.of("tensors", "weights").contains(c.dotted()) ? ".safetensors" : ".png";
        if (video
                && !o.file().endsWith(".gif")
                && !o.file().endsWith(".mp4")
                && !o.file().endsWith(".png")) {
            diagnostics.error(
                    o.span(),
                    "video(...) writes an animated .gif, an H.264 .mp4 or numbered .png frames, but the output is"
                            + " named \"" + o.file() + "\"");
            return null;
        }
        if (!video && !o.file().endsWith(expectedExt)) {
            diagnostics.error(
                    o.span(),
                    c.dotted() + "(...) writes a " + expectedExt + " file, but the output is named \"" + o.file()
                            + "\"");
            return null;
        }
        if (!fileNameEncodable(o.file())) {
            // Found now, not when the outputs are written after the whole computation.
            diagnostics.error(
                    o.span(),
                    "output \"" + o.file() + "\" cannot be a file name in this locale's character set ("
                            + System.getProperty("sun.jnu.encoding", "unknown")
                            + "); use a UTF-8 locale (e.g. LANG=C.UTF-8) or an ASCII name");
            return null;
        }
        if (!insideOutputFolder(o.file())) {
            diagnostics.error(
                    o.span(),
                    "output \"" + o.file() + "\" must stay inside the output folder: a relative path without '..'");
            return null;
        }
        return new PipelineSettings.Output(
                o.file(), c.dotted(), names, columns, scale, fps, labels, averaged, o.span());
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
            Path path = file(s.value(), s.span());
            return path == null ? null : new PipelineSettings.Checkpoint(path, s.span());
        }
        if (e instanceof Ast.Call c
                && (c.dotted().equals("random") || c.dotted().equals("init"))) {
            Map<String, Ast.Expr> args = named(c, Set.of("seed", "std", "from", "rename"));
            if (args == null) {
                return null;
            }
            long seed = args.containsKey("seed") ? integer(args.get("seed"), c.dotted() + "(seed)") : 0;
            double std = args.containsKey("std") ? number(args.get("std"), c.dotted() + "(std)") : 0.02;
            Path from = null;
            if (args.get("from") instanceof Ast.StringLit f) {
                from = file(f.value(), f.span());
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
                if (from == null) {
                    diagnostics.error(
                            args.get("rename").span(), "rename maps the keys of init(from = ...): give the file");
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
            out.add(new PipelineSettings.Rename(from.value(), to.value()));
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
        Path path = file(file.value(), file.span());
        return path == null ? null : new PipelineSettings.Inputs(path, names, c.span());
    }

    /** A noise schedule as written: its kind, T, and a flow's time shift (1 for none). */
    private record ScheduleSetting(String kind, int steps, double shift) {}

    /**
     * {@code linear(1000)}, {@code cosine(1000)}, … or {@code flow(1000, shift = 3.0)}; linear(1000)
     * when absent. An unknown kind is reported and kept, so that one mistake gives one error.
     */
    private ScheduleSetting schedule(Ast.Expr e) {
        String schedule = "linear";
        int scheduleSteps = 1000;
        double shift = 1.0;
        if (e instanceof Ast.Call c) {
            schedule = c.dotted();
            List<String> known = new ArrayList<>(Schedules.NAMES);
            known.add(FLOW);
            if (!known.contains(schedule)) {
                diagnostics.error(
                        c.span(),
                        "unknown schedule '" + schedule + "'" + Suggestions.didYouMean(schedule, known) + " ("
                                + String.join(", ", known) + ")");
            }
            Map<String, Ast.Expr> args =
                    positionalOrNamed(c, schedule.equals(FLOW) ? List.of("steps", "shift") : List.of("steps"));
            if (args != null && args.containsKey("steps")) {
                scheduleSteps = count(args.get("steps"), "a schedule's steps", 1, Limits.MAX_SCHEDULE_STEPS);
            }
            if (args != null && args.containsKey("shift")) {
                shift = number(args.get("shift"), "flow shift");
                if (!(shift > 0)) {
                    diagnostics.error(args.get("shift").span(), "the flow shift must be positive, got " + shift);
                }
            }
        } else if (e != null) {
            diagnostics.error(
                    e.span(),
                    "schedule must be a call such as linear(1000), cosine(1000)" + " or flow(1000, shift = 3.0)");
        }
        return new ScheduleSetting(schedule, scheduleSteps, shift);
    }

    /** The sampling settings of stage {@code stage}; its sampler call (own arguments only) goes to {@link #samplers}. */
    private PipelineSettings.Sampling sampling(String stage, Map<String, Ast.Expr> s, Span span) {
        ScheduleSetting sched = schedule(s.get("schedule"));
        String schedule = sched.kind();
        int scheduleSteps = sched.steps();
        double shift = sched.shift();
        // The default sampler fits the schedule: DDIM on a diffusion, Euler on a flow.
        String sampler = schedule.equals(FLOW) ? "flow_euler" : "ddim";
        int steps = 50;
        String spacing = null;
        Ast.Call samplerCall = new Ast.Call(List.of(sampler), List.of(), span);
        if (s.get("sampler") instanceof Ast.Call c && c.callee().size() == 1) {
            sampler = c.dotted();
            // steps and spacing choose the timesteps (the pipeline's business); the rest are the
            // sampler's own parameters, checked when it is instantiated.
            List<Ast.Arg> own = new ArrayList<>();
            Map<String, Ast.Expr> args = new LinkedHashMap<>();
            for (Ast.Arg a : c.args()) {
                if (a.name() == null) {
                    diagnostics.error(
                            a.span(),
                            c.dotted() + "(...) takes named arguments: steps, spacing and the"
                                    + " sampler's parameters");
                } else if (a.name().equals("steps") || a.name().equals("spacing")) {
                    args.put(a.name(), a.value());
                } else {
                    own.add(a);
                }
            }
            samplerCall = new Ast.Call(c.callee(), own, c.span());
            if (args.containsKey("steps")) {
                steps = count(args.get("steps"), "sampler steps", 1, Limits.MAX_SCHEDULE_STEPS);
            }
            if (args.containsKey("spacing") && schedule.equals(FLOW)) {
                diagnostics.error(
                        args.get("spacing").span(),
                        "a flow schedule places its levels itself (and its shift" + " moves them); give steps = N");
            } else if (args.get("spacing") instanceof Ast.StringLit sp) {
                spacing = sp.value();
                Integer n = scheduleSteps < 1 ? null : spacedSteps(spacing, scheduleSteps, sp.span());
                if (n != null && args.containsKey("steps") && n != steps) {
                    diagnostics.error(
                            sp.span(),
                            "spacing \"" + spacing + "\" keeps " + n + " steps, but steps = " + steps
                                    + "; give one of the two");
                } else if (n != null) {
                    steps = n;
                }
            } else if (args.containsKey("spacing")) {
                diagnostics.error(
                        args.get("spacing").span(),
                        "spacing must be a string: \"ddim25\", \"25\" or" + " section counts \"10,15,20\"");
            }
        } else if (s.containsKey("sampler")) {
            diagnostics.error(
                    s.get("sampler").span(),
                    "sampler must be a sampler call such as ddim(steps = 50, eta = 0.0),"
                            + " ddpm(steps = 250) or euler(steps = 20)");
        }
        if (scheduleSteps >= 1 && steps >= 1 && steps > scheduleSteps) {
            diagnostics.error(
                    s.containsKey("sampler") ? s.get("sampler").span() : span,
                    "sampler steps must be in 1.." + scheduleSteps + ", got " + steps);
        }
        double scale = 1;
        String form = "dit";
        if (s.get("guidance") instanceof Ast.Call c && c.dotted().equals("cfg")) {
            Map<String, Ast.Expr> args = named(c, Set.of("scale", "form"));
            if (args != null) {
                scale = args.containsKey("scale") ? number(args.get("scale"), "guidance scale") : 4.0;
                if (args.get("form") instanceof Ast.StringLit f) {
                    form = f.value();
                    if (!form.equals("dit") && !form.equals("latte") && !form.equals("standard")) {
                        diagnostics.error(
                                f.span(),
                                "guidance form must be \"dit\" (first three channels, as DiT publishes),"
                                        + " \"latte\" (first four, as Latte does) or \"standard\" (all channels)");
                    }
                }
            }
        } else if (s.containsKey("guidance")
                && !(s.get("guidance") instanceof Ast.Name n && n.dotted().equals("none"))) {
            diagnostics.error(s.get("guidance").span(), "guidance must be cfg(scale = 4.0, form = \"dit\") or none");
        }
        long[] classes = s.containsKey("classes") ? longs(s.get("classes"), "classes") : new long[] {0};
        int[] latent = null;
        if (s.containsKey("latent")) {
            // Any rank: [C, H, W] for images, [F, C, H, W] for video latents.
            long[] l = longs(s.get("latent"), "latent");
            if (l != null) {
                latent = new int[l.length];
                for (int i = 0; i < l.length; i++) {
                    if (l[i] < 1 || l[i] > Integer.MAX_VALUE) {
                        diagnostics.error(s.get("latent").span(), "latent sizes must be positive, got " + l[i]);
                        break;
                    }
                    latent[i] = (int) l[i];
                }
            }
        }
        int[][] sizes = s.containsKey("sizes") ? sizes(s.get("sizes"), classes) : null;
        int pack = 0;
        if (s.containsKey("pack")) {
            long n = integer(s.get("pack"), "pack");
            if (!s.containsKey("sizes")) {
                diagnostics.error(
                        s.get("pack").span(), "pack sets the row length of packed samples; give sizes = [[H, W], ...]");
            } else if (n < 1 || n > 1 << 20) {
                diagnostics.error(s.get("pack").span(), "pack must be a row length of 1..1048576 tokens, got " + n);
            } else {
                pack = (int) n;
            }
        }
        if (sizes != null && latent != null) {
            diagnostics.error(s.get("latent").span(), "give latent (one size) or sizes (one per sample), not both");
        }
        boolean clip = false;
        if (s.containsKey("clip_x0")) {
            if (s.get("clip_x0") instanceof Ast.BoolLit b) {
                clip = b.value();
                if (clip && schedule.equals(FLOW)) {
                    diagnostics.error(
                            b.span(),
                            "clip_x0 applies to a Gaussian diffusion's x̂₀; a flow schedule does not" + " clip");
                }
            } else {
                diagnostics.error(s.get("clip_x0").span(), "clip_x0 must be true or false");
            }
        }
        PipelineSettings.TensorRef noise = s.containsKey("noise") ? tensorRef(s.get("noise"), "noise") : null;
        samplers.put(stage, samplerCall);
        return new PipelineSettings.Sampling(
                schedule,
                scheduleSteps,
                shift,
                sampler,
                steps,
                spacing,
                scale,
                form,
                classes,
                latent,
                sizes,
                pack,
                clip,
                noise,
                span,
                s.containsKey("classes") ? s.get("classes").span() : span);
    }

    /**
     * {@code sizes = [[H, W], [F, H, W], ...]}: each sample's latent size, one per class (a single
     * size serves every class; a single class is sampled at every size), or null after errors.
     */
    private int[][] sizes(Ast.Expr e, long[] classes) {
        List<Ast.Expr> items = new ArrayList<>();
        if (!sizeItems(e, items) || items.isEmpty()) {
            diagnostics.error(
                    e.span(),
                    "sizes must be a list of sizes, e.g. [[32, 32], [32, 48], [48, 32]], [[64, 64]] * 20 or lists"
                            + " joined with +");
            return null;
        }
        List<int[]> out = new ArrayList<>();
        for (Ast.Expr item : items) {
            long[] v = item instanceof Ast.ListLit ? longs(item, "a size") : null;
            if (v == null
                    || v.length < 2
                    || v.length > 3
                    || java.util.Arrays.stream(v).anyMatch(x -> x < 1 || x > 1 << 16)) {
                diagnostics.error(item.span(), "a size is [H, W] or [F, H, W] of 1..65536 each, e.g. [32, 48]");
                return null;
            }
            out.add(java.util.Arrays.stream(v).mapToInt(x -> (int) x).toArray());
        }
        if (classes != null && out.size() != classes.length && out.size() != 1 && classes.length != 1) {
            diagnostics.error(
                    e.span(),
                    "sizes gives " + out.size() + " sizes for " + classes.length
                            + " classes; give one size per class, one size for all, or one class for all sizes");
            return null;
        }
        return out.toArray(int[][]::new);
    }

    /**
     * The items of a list of sizes as Python writes one: {@code [[32, 32], [48, 32]]}, repeated
     * ({@code [[64, 64]] * 20}) or joined ({@code [[16, 64, 64]] * 4 + [[64, 64]] * 4}), at most
     * {@link Limits#MAX_LIST_ITEMS} items; false where {@code e} is none of these.
     */
    private boolean sizeItems(Ast.Expr e, List<Ast.Expr> out) {
        switch (e) {
            case Ast.ListLit l -> out.addAll(l.items());
            case Ast.Binary b
            when b.op().equals("*") -> {
                List<Ast.Expr> items = new ArrayList<>();
                if (!sizeItems(b.left(), items)) {
                    return false;
                }
                long times = integer(b.right(), "a list's repeat count");
                if (times < 0 || times > Limits.MAX_LIST_ITEMS || items.size() * times > Limits.MAX_LIST_ITEMS) {
                    return false;
                }
                for (long i = 0; i < times; i++) {
                    out.addAll(items);
                }
            }
            case Ast.Binary b
            when b.op().equals("+") -> {
                if (!sizeItems(b.left(), out) || !sizeItems(b.right(), out)) {
                    return false;
                }
            }
            default -> {
                return false;
            }
        }
        return out.size() <= Limits.MAX_LIST_ITEMS;
    }

    /** The number of steps {@code spacing} keeps out of {@code total}, or null after reporting why it is invalid. */
    private Integer spacedSteps(String spacing, int total, Span span) {
        try {
            return Respacing.spaceTimesteps(total, spacing).length;
        } catch (IllegalArgumentException e) {
            diagnostics.error(span, "spacing \"" + spacing + "\": " + e.getMessage());
            return null;
        }
    }

    // ---------------------------------------------------------------- small readers

    private Map<String, Ast.Expr> named(Ast.Call c, Set<String> allowed) {
        Map<String, Ast.Expr> out = new LinkedHashMap<>();
        for (Ast.Arg a : c.args()) {
            if (a.name() == null || !allowed.contains(a.name())) {
                diagnostics.error(
                        a.span(),
                        c.dotted() + "(...) takes named arguments "
                                + String.join(", ", new java.util.TreeSet<>(allowed)));
                return null;
            }
            out.put(a.name(), a.value());
        }
        return out;
    }

    private Map<String, Ast.Expr> positionalOrNamed(Ast.Call c, List<String> order) {
        Map<String, Ast.Expr> out = new HashMap<>();
        int i = 0;
        for (Ast.Arg a : c.args()) {
            String name = a.name() != null ? a.name() : i < order.size() ? order.get(i++) : null;
            if (name == null || !order.contains(name)) {
                diagnostics.error(a.span(), c.dotted() + "(...) takes " + String.join(", ", order));
                return null;
            }
            out.put(name, a.value());
        }
        return out;
    }

    /**
     * An integer setting that sizes work or memory, in {@code min..max}; out of range (a typo such
     * as 10000000 steps would otherwise run for hours or exhaust memory) it is an error here, and
     * the result is 0, which later checks pass over rather than report again.
     */
    private int count(Ast.Expr e, String what, int min, int max) {
        int before = diagnostics.errorCount();
        long n = integer(e, what);
        if (diagnostics.errorCount() > before) {
            return 0;
        }
        if (n < min || n > max) {
            diagnostics.error(
                    e.span(),
                    what + " must be in " + min + ".." + String.format(java.util.Locale.ROOT, "%,d", max) + ", got "
                            + n);
            return 0;
        }
        return (int) n;
    }

    private long integer(Ast.Expr e, String what) {
        if (e instanceof Ast.IntLit i) {
            return i.value();
        }
        if (e instanceof Ast.Unary u && u.op().equals("-") && u.operand() instanceof Ast.IntLit i) {
            return -i.value();
        }
        diagnostics.error(e.span(), what + " must be an integer");
        return 0;
    }

    private double number(Ast.Expr e, String what) {
        return switch (e) {
            case Ast.IntLit i -> i.value();
            case Ast.FloatLit f -> f.value();
            case Ast.Unary u when u.op().equals("-") -> -number(u.operand(), what);
            default -> {
                diagnostics.error(e.span(), what + " must be a number");
                yield 0;
            }
        };
    }

    private long[] longs(Ast.Expr e, String what) {
        int before = diagnostics.errorCount();
        List<Long> items = integerList(e, what);
        if (diagnostics.errorCount() > before) {
            return null;
        }
        if (items.isEmpty()) {
            diagnostics.error(e.span(), what + " must be a non-empty list of integers, e.g. [207, 360]");
            return null;
        }
        return items.stream().mapToLong(Long::longValue).toArray();
    }

    /**
     * A list of integers as Python writes one: {@code [207, 360]}, {@code range(10)},
     * {@code range(2, 5)}, a list repeated ({@code range(10) * 100}, ten classes a hundred times
     * over) or lists joined ({@code [1] + range(3, 5)}), at most {@link Limits#MAX_LIST_ITEMS} items.
     */
    private List<Long> integerList(Ast.Expr e, String what) {
        List<Long> out = new ArrayList<>();
        switch (e) {
            case Ast.ListLit l -> l.items().forEach(i -> out.add(integer(i, what)));
            case Ast.Call c
            when c.dotted().equals("range")
                    && !c.args().isEmpty()
                    && c.args().size() <= 2
                    && c.args().stream().allMatch(a -> a.name() == null) -> {
                long from = c.args().size() == 2 ? integer(c.args().get(0).value(), "range's start") : 0;
                long to = integer(c.args().getLast().value(), "range's end");
                if ((double) to - from > Limits.MAX_LIST_ITEMS) { // in double: no long overflow
                    diagnostics.error(c.span(), tooLong(what));
                    return out;
                }
                for (long i = from; i < to; i++) {
                    out.add(i);
                }
            }
            case Ast.Binary b
            when b.op().equals("*") -> {
                List<Long> items = integerList(b.left(), what);
                long times = integer(b.right(), "a list's repeat count");
                if (times < 0 || times > Limits.MAX_LIST_ITEMS || items.size() * times > Limits.MAX_LIST_ITEMS) {
                    diagnostics.error(b.span(), times < 0 ? "a list's repeat count must be ≥ 0" : tooLong(what));
                    return out;
                }
                for (long i = 0; i < times; i++) {
                    out.addAll(items);
                }
            }
            case Ast.Binary b
            when b.op().equals("+") -> {
                out.addAll(integerList(b.left(), what));
                out.addAll(integerList(b.right(), what));
                if (out.size() > Limits.MAX_LIST_ITEMS) {
                    diagnostics.error(b.span(), tooLong(what));
                }
            }
            default ->
                diagnostics.error(
                        e.span(),
                        what + " must be a list of integers: [207, 360], range(10), range(10) * 4 or lists joined"
                                + " with +");
        }
        return out;
    }

    private static String tooLong(String what) {
        return what + " would have more than " + Limits.MAX_LIST_ITEMS + " items";
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
