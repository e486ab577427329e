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
 * A train stage's settings: its objective, data (MNIST's IDX files, a folder of images, Moving
 * MNIST, or a mix of them), optimizer and schedule of the learning rate, batch, steps, clipping,
 * EMA, checkpoints, frozen weights, and packing with token dropping.
 */
final class TrainingReader {
    /**
     * What a train stage minimises: {@code diffusion} (the default: L_simple, plus the variational
     * bound for a learned range of variances, as DiT's create_diffusion chooses), {@code simple},
     * {@code hybrid}, or a classifier's cross-entropy.
     */
    private static final List<String> OBJECTIVES = List.of("diffusion", "simple", "hybrid", "classify");
    /** The calls that give a train stage's data. */
    private static final Set<String> DATA_CALLS = Set.of("idx", "images", "moving_mnist");

    private final Diagnostics diagnostics;
    private final ArgReader values;
    private final SamplingReader samplingReader;

    TrainingReader(Diagnostics diagnostics, ArgReader values, SamplingReader samplingReader) {
        this.diagnostics = diagnostics;
        this.values = values;
        this.samplingReader = samplingReader;
    }

    /** A train stage's settings, or null after reporting what is wrong. */
    PipelineSettings.Training read(Map<String, Ast.Expr> a, Span span) {
        int before = diagnostics.errorCount();
        int[][] sizes = a.containsKey("sizes") ? samplingReader.sizes(a.get("sizes"), null) : null;
        if (sizes != null && java.util.Arrays.stream(sizes).anyMatch(x -> x.length != 2 && x.length != 3)) {
            diagnostics.error(a.get("sizes").span(), "a training size is [H, W] (an image) or [F, H, W] (a clip)");
        }
        int pack = 0;
        if (a.containsKey("pack")) {
            long n = values.integer(a.get("pack"), "pack");
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
        for (String k : List.of(
                "schedule",
                "label_dropout",
                "sample_every",
                "sizes",
                "pack",
                "drop",
                "snr_gamma",
                "context_frames",
                "keyframes")) {
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
        SamplingReader.ScheduleSetting schedule = samplingReader.schedule(a.get("schedule"));
        double lr = 1e-4;
        long warmup = 0;
        boolean cosine = false;
        double decay = 0;
        if (a.get("optimizer") instanceof Ast.Call o && o.dotted().equals("adamw")) {
            Map<String, Ast.Expr> args = values.named(o, Set.of("lr", "weight_decay", "warmup", "decay"));
            if (args != null) {
                lr = args.containsKey("lr") ? values.number(args.get("lr"), "lr") : lr;
                decay = args.containsKey("weight_decay") ? values.number(args.get("weight_decay"), "weight_decay") : 0;
                warmup = args.containsKey("warmup")
                        ? values.count(args.get("warmup"), "warmup", 0, Limits.MAX_TRAINING_STEPS)
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
        int batch = a.containsKey("batch") ? values.count(a.get("batch"), "batch", 1, 4096) : 32;
        long steps =
                a.containsKey("steps") ? values.count(a.get("steps"), "steps", 1, Limits.MAX_TRAINING_STEPS) : 1000;
        double clip = a.containsKey("clip") ? values.number(a.get("clip"), "clip") : 1.0;
        double ema = a.containsKey("ema") ? values.number(a.get("ema"), "ema") : 0.9999;
        // NaN: not given, so the run follows the model (0.1 when it has a null label, else none).
        double dropout =
                a.containsKey("label_dropout") ? values.number(a.get("label_dropout"), "label_dropout") : Double.NaN;
        if (!(clip > 0)) {
            diagnostics.error(a.get("clip").span(), "clip must be a positive gradient norm, got " + clip);
        }
        if (!(ema >= 0 && ema < 1)) {
            diagnostics.error(a.get("ema").span(), "ema must be a decay in [0, 1), got " + ema);
        }
        if (a.containsKey("label_dropout") && !(dropout >= 0 && dropout <= 1)) {
            diagnostics.error(a.get("label_dropout").span(), "label_dropout must be a probability, got " + dropout);
        }
        double snrGamma = a.containsKey("snr_gamma") ? values.number(a.get("snr_gamma"), "snr_gamma") : 0;
        if (a.containsKey("snr_gamma") && !(snrGamma > 0 && snrGamma < 1e6)) {
            diagnostics.error(
                    a.get("snr_gamma").span(),
                    "snr_gamma must be positive (Min-SNR's γ, 5 in its paper), got " + snrGamma);
        } else if (a.containsKey("snr_gamma") && schedule.kind().equals("flow")) {
            diagnostics.error(
                    a.get("snr_gamma").span(),
                    "snr_gamma weights a diffusion schedule's noise levels; a flow's training has no such weighting here");
        }
        int[] contextFrames = a.containsKey("context_frames") ? contextFrames(a.get("context_frames")) : null;
        double keyframes = a.containsKey("keyframes") ? values.number(a.get("keyframes"), "keyframes") : 0;
        if (!(keyframes >= 0 && keyframes <= 1)) {
            diagnostics.error(
                    a.get("keyframes").span(),
                    "keyframes is the share of examples given their first and last frames, in [0, 1], got "
                            + keyframes);
        }
        long seed = a.containsKey("seed") ? values.integer(a.get("seed"), "seed") : 0;
        long every = a.containsKey("checkpoint")
                ? values.count(a.get("checkpoint"), "checkpoint", 1, Limits.MAX_TRAINING_STEPS)
                : 1000;
        long sampleEvery = a.containsKey("sample_every")
                ? values.count(a.get("sample_every"), "sample_every", 1, Limits.MAX_TRAINING_STEPS)
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
                contextFrames,
                keyframes,
                span);
    }

    /** {@code context_frames = [0, 1, 2]}: the numbers of context frames a training step draws among. */
    private int[] contextFrames(Ast.Expr e) {
        if (e instanceof Ast.ListLit l && !l.items().isEmpty()) {
            int[] counts = new int[l.items().size()];
            for (int i = 0; i < counts.length; i++) {
                counts[i] = values.count(l.items().get(i), "context_frames", 0, 1 << 16);
            }
            return counts;
        }
        diagnostics.error(
                e.span(),
                "context_frames is a list of how many of a clip's first frames a step gives the model,"
                        + " one drawn per example: [0, 1, 2] as Video LDM trains");
        return null;
    }

    /**
     * {@code random(rate)} or {@code similar(threshold)}, {@code similar(threshold, share = s)}: a
     * packed training's token dropping.
     */
    PipelineSettings.Dropping dropping(Ast.Expr e) {
        if (e instanceof Ast.Call c && Set.of("random", "similar").contains(c.dotted())) {
            boolean similar = c.dotted().equals("similar");
            String what = similar ? "threshold" : "rate";
            Map<String, Ast.Expr> args = values.positionalOrNamed(c, similar ? List.of(what, "share") : List.of(what));
            if (args == null) {
                return null;
            }
            if (!args.containsKey(what)) {
                diagnostics.error(c.span(), c.dotted() + "(...) needs its " + what);
                return null;
            }
            double v = values.number(args.get(what), what);
            boolean ok = similar ? v > -1 && v <= 1 : v >= 0 && v < 1;
            if (!ok) {
                diagnostics.error(
                        args.get(what).span(),
                        similar
                                ? "a similarity threshold is in (−1, 1], got " + v
                                : "a drop rate is in [0, 1), got " + v);
                return null;
            }
            double share = 1;
            if (args.containsKey("share")) {
                share = values.number(args.get("share"), "share");
                if (!(share > 0 && share <= 1)) {
                    diagnostics.error(
                            args.get("share").span(),
                            "share is the part of the clips similarity thins, in (0, 1], got " + share);
                    return null;
                }
            }
            return new PipelineSettings.Dropping(similar, v, share);
        }
        diagnostics.error(
                e.span(),
                "drop is random(rate), each patch left out with that probability, or similar(threshold), a clip's"
                        + " patch left out when its cosine similarity to the patch last kept at its place exceeds the threshold"
                        + " (similar(threshold, share = s) in a share s of the clips only)");
        return null;
    }

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
            case "moving_mnist" -> samplingReader.movingMnist(d);
            default -> imageFolder(d);
        };
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
        Path path = values.file(folder.value(), folder.span());
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
        int pad = args.containsKey("pad") ? values.count(args.get("pad"), "pad", 0, 64) : 0;
        boolean flip = false;
        if (args.get("flip") instanceof Ast.BoolLit b) {
            flip = b.value();
        } else if (args.containsKey("flip")) {
            diagnostics.error(args.get("flip").span(), "flip must be true or false");
        }
        Path imagesPath = values.file(images.value(), images.span());
        Path labelsPath = values.file(labels.value(), labels.span());
        return imagesPath == null || labelsPath == null
                ? null
                : new PipelineSettings.IdxData(imagesPath, labelsPath, pad, flip, d.span());
    }
}
