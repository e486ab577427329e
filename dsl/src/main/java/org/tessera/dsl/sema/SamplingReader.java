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
import org.tessera.engine.diffusion.Respacing;
import org.tessera.engine.diffusion.Schedules;

/**
 * A sample stage's settings — schedule, sampler and its steps, guidance, classes, latent sizes
 * or packed sizes, clipping, a starting noise — and the noise schedule and sizes a train stage
 * shares with it.
 */
final class SamplingReader {
    /** The rectified-flow schedule (flow matching): not a β schedule. */
    static final String FLOW = "flow";

    private final Diagnostics diagnostics;
    private final ArgReader values;
    /** The sampler call of each sample stage, by stage name. */
    private final Map<String, Ast.Call> samplers = new LinkedHashMap<>();

    SamplingReader(Diagnostics diagnostics, ArgReader values) {
        this.diagnostics = diagnostics;
        this.values = values;
    }

    /** The sampler call of each sample stage read so far (its own arguments only), by stage name. */
    Map<String, Ast.Call> samplers() {
        return samplers;
    }

    /** A noise schedule as written: its kind, T, and a flow's time shift (1 for none). */
    record ScheduleSetting(String kind, int steps, double shift) {}

    /**
     * {@code linear(1000)}, {@code cosine(1000)}, … or {@code flow(1000, shift = 3.0)}; linear(1000)
     * when absent. An unknown kind is reported and kept, so that one mistake gives one error.
     */
    ScheduleSetting schedule(Ast.Expr e) {
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
                    values.positionalOrNamed(c, schedule.equals(FLOW) ? List.of("steps", "shift") : List.of("steps"));
            if (args != null && args.containsKey("steps")) {
                scheduleSteps = values.count(args.get("steps"), "a schedule's steps", 1, Limits.MAX_SCHEDULE_STEPS);
            }
            if (args != null && args.containsKey("shift")) {
                shift = values.number(args.get("shift"), "flow shift");
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

    /** The sampling settings of stage {@code stage}; its sampler call (own arguments only) goes to {@link #samplers()}. */
    PipelineSettings.Sampling read(String stage, Map<String, Ast.Expr> s, Span span) {
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
                steps = values.count(args.get("steps"), "sampler steps", 1, Limits.MAX_SCHEDULE_STEPS);
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
            Map<String, Ast.Expr> args = values.named(c, Set.of("scale", "form"));
            if (args != null) {
                scale = args.containsKey("scale") ? values.number(args.get("scale"), "guidance scale") : 4.0;
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
        long[] classes = s.containsKey("classes") ? values.longs(s.get("classes"), "classes") : new long[] {0};
        int[] latent = null;
        if (s.containsKey("latent")) {
            // Any rank: [C, H, W] for images, [F, C, H, W] for video latents.
            long[] l = values.longs(s.get("latent"), "latent");
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
            long n = values.integer(s.get("pack"), "pack");
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
        PipelineSettings.Context context = context(s, span);
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
                context,
                span,
                s.containsKey("classes") ? s.get("classes").span() : span);
    }

    /**
     * {@code context = load(...)} or {@code moving_mnist(...)}, {@code context_frames = S}, {@code segments = n}: what a model
     * with context frames continues, or null when none is given. S defaults to 2 where there is
     * something to continue (Video LDM's two frames, which carry the motion as well as the look).
     */
    private PipelineSettings.Context context(Map<String, Ast.Expr> s, Span span) {
        if (!s.containsKey("context")
                && !s.containsKey("context_frames")
                && !s.containsKey("segments")
                && !s.containsKey("interpolate")) {
            return null;
        }
        PipelineSettings.TensorRef clips = null;
        PipelineSettings.MovingMnistData data = null;
        if (s.get("context") instanceof Ast.Call c && c.dotted().equals("moving_mnist")) {
            data = movingMnist(c);
        } else if (s.containsKey("context")) {
            clips = tensorRef(s.get("context"), "context");
        }
        int segments = s.containsKey("segments") ? values.count(s.get("segments"), "segments", 1, 1024) : 1;
        int frames = s.containsKey("context_frames")
                ? values.count(s.get("context_frames"), "context_frames", 0, 1 << 16)
                : clips != null || data != null || segments > 1 ? 2 : 0;
        if (frames == 0 && segments > 1) {
            diagnostics.error(
                    s.get("context_frames").span(),
                    "segments > 1 continue each segment from the last frames of the one before: context_frames ≥ 1");
        }
        if (frames == 0 && (clips != null || data != null) && !s.containsKey("interpolate")) {
            diagnostics.error(
                    s.get("context_frames").span(),
                    "context_frames = 0 gives the model none of the context clips' frames: give 1 or more (2 carries"
                            + " the motion as well as the look)");
        }
        if (frames > 0 && clips == null && data == null && segments == 1) {
            diagnostics.error(
                    s.get("context_frames").span(),
                    "context_frames gives frames of earlier clips: give them with context = load(\"clips.safetensors\","
                            + " \"samples\") or moving_mnist(...), or sample segments = n > 1");
        }
        int interpolate = 0;
        if (s.containsKey("interpolate")) {
            interpolate = values.count(s.get("interpolate"), "interpolate", 1, 1 << 16);
            if (clips == null && data == null) {
                diagnostics.error(
                        s.get("interpolate").span(),
                        "interpolate fills in between the keyframes of context clips: give them with context ="
                                + " load(\"keyframes.safetensors\", \"samples\") or moving_mnist(...)");
            } else if (s.containsKey("segments") || s.containsKey("context_frames")) {
                diagnostics.error(
                        s.get("interpolate").span(),
                        "interpolate gives each clip its two keyframes; segments and context_frames are for"
                                + " continuing a video");
            }
            frames = 2;
        }
        // errors found later (the model, the clips) point at the setting that asks the most of them
        Span where = span;
        for (String k : List.of("interpolate", "context_frames", "segments", "context")) {
            if (s.containsKey(k)) {
                where = s.get(k).span();
                break;
            }
        }
        return new PipelineSettings.Context(clips, data, frames, segments, interpolate, where);
    }

    /**
     * {@code sizes = [[H, W], [F, H, W], ...]}: each sample's latent size, one per class (a single
     * size serves every class; a single class is sampled at every size), or null after errors.
     */
    int[][] sizes(Ast.Expr e, long[] classes) {
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
            long[] v = item instanceof Ast.ListLit ? values.longs(item, "a size") : null;
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
                long times = values.integer(b.right(), "a list's repeat count");
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

    /** {@code load("file.safetensors", "key")}: one tensor of a file, e.g. a starting noise x_T. */
    private PipelineSettings.TensorRef tensorRef(Ast.Expr e, String what) {
        if (e instanceof Ast.Call c
                && c.dotted().equals("load")
                && c.args().size() == 2
                && c.args().get(0).name() == null
                && c.args().get(1).name() == null
                && c.args().get(0).value() instanceof Ast.StringLit file
                && c.args().get(1).value() instanceof Ast.StringLit key) {
            Path path = values.file(file.value(), file.span());
            return path == null ? null : new PipelineSettings.TensorRef(path, key.value(), c.span());
        }
        diagnostics.error(e.span(), what + " must be load(\"file.safetensors\", \"tensor name\")");
        return null;
    }

    /**
     * {@code moving_mnist("train-images-idx3-ubyte", labels = "train-labels-idx1-ubyte", digits = 2)}: training data, or the clips a
     * sampling continues.
     */
    PipelineSettings.MovingMnistData movingMnist(Ast.Call d) {
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
                digits = (int) values.count(arg.value(), "digits", 1, 8);
            } else if ("frame".equals(arg.name())) {
                frame = (int) values.count(arg.value(), "frame", 28, 1024);
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
        Path imagesPath = values.file(images.value(), images.span());
        Path labelsPath = values.file(labels.value(), labels.span());
        return imagesPath == null || labelsPath == null
                ? null
                : new PipelineSettings.MovingMnistData(imagesPath, labelsPath, digits, frame, d.span());
    }
}
