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
    private static final Set<String> KEYS = Set.of("model", "weights", "inputs", "schedule", "sampler", "guidance",
            "classes", "latent", "seed", "decoder", "clip_x0");
    private static final Set<String> FORMATS = Set.of("tensors", "png", "grid");

    private final Diagnostics diagnostics;
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

    /** A pipeline's checked settings and the call of its model (to instantiate). */
    public record Result(PipelineSettings settings, Ast.Call model) {}

    /** The settings, or null when the declaration has errors (reported to the diagnostics). */
    public Result read(Ast.PipelineDecl decl) {
        Map<String, Ast.Expr> settings = new LinkedHashMap<>();
        List<PipelineSettings.Output> outputs = new ArrayList<>();
        int errors = diagnostics.errorCount();
        for (Ast.Setting s : decl.settings()) {
            switch (s) {
                case Ast.AssignSetting a -> {
                    if (!KEYS.contains(a.key())) {
                        diagnostics.error(a.span(), "unknown pipeline setting '" + a.key() + "'"
                                + didYouMean(a.key()) + " (settings: " + String.join(", ", new java.util.TreeSet<>(KEYS)) + ")");
                    } else if (settings.containsKey(a.key())) {
                        diagnostics.error(a.span(), "setting '" + a.key() + "' is given twice");
                    } else {
                        settings.put(a.key(), a.value());
                    }
                }
                case Ast.OutputSetting o -> outputs.add(output(o));
            }
        }
        for (Map.Entry<String, String> o : overrides.entrySet()) {
            if (!KEYS.contains(o.getKey())) {
                diagnostics.error(decl.span(), "--set " + o.getKey() + ": unknown pipeline setting" + didYouMean(o.getKey()));
                continue;
            }
            Ast.Expr e = parseOverride(o.getKey(), o.getValue(), decl.span());
            if (e != null) {
                settings.put(o.getKey(), e);
            }
        }
        Ast.Call model = null;
        if (!(settings.get("model") instanceof Ast.Call c)) {
            diagnostics.error(settings.containsKey("model") ? settings.get("model").span() : decl.span(),
                    settings.containsKey("model") ? "model must be a model call such as DiT_XL_2(input_size = 32)"
                            : "pipeline '" + decl.name() + "' has no model: add  model = DiT_XL_2(input_size = 32)");
        } else {
            model = c;
        }
        PipelineSettings.Weights weights = weights(settings.get("weights"), decl.span());
        Ast.Expr decoder = settings.get("decoder");
        if (decoder != null && !(decoder instanceof Ast.Name n && n.dotted().equals("none"))) {
            diagnostics.error(decoder.span(), "decoding latents through a VAE is not supported yet; use decoder = none"
                    + " and write the latents (output \"x.safetensors\" = tensors(samples))");
        }
        long seed = settings.containsKey("seed") ? integer(settings.get("seed"), "seed") : 0;
        PipelineSettings.Inputs inputs = settings.containsKey("inputs") ? inputs(settings.get("inputs")) : null;
        PipelineSettings.Sampling sampling = null;
        if (inputs == null) {
            sampling = sampling(settings, decl.span());
        } else {
            for (String k : List.of("schedule", "sampler", "guidance", "classes", "latent")) {
                if (settings.containsKey(k)) {
                    diagnostics.error(settings.get(k).span(), "'" + k + "' has no effect in a forward pipeline (one with"
                            + " 'inputs'); remove it or remove 'inputs' to sample");
                }
            }
        }
        if (outputs.isEmpty()) {
            diagnostics.warning(decl.span(), "pipeline '" + decl.name() + "' writes no output; add e.g. "
                    + (inputs == null ? "output \"samples.png\" = png(samples)" : "output \"out.safetensors\" = tensors(out)"));
        }
        for (PipelineSettings.Output o : outputs) {
            if (o == null) {
                continue;
            }
            for (String n : o.names()) {
                boolean ok = inputs == null ? n.equals("samples") : n.equals("out") || inputs.names().containsKey(n);
                if (!ok) {
                    diagnostics.error(o.span(), "output names '" + n + "', which this pipeline does not produce"
                            + (inputs == null ? " (a sampling pipeline produces 'samples')"
                                    : " (a forward pipeline produces 'out' and its inputs)"));
                }
            }
        }
        if (diagnostics.errorCount() > errors) {
            return null;
        }
        return new Result(new PipelineSettings(decl.name(), weights, inputs, sampling, seed,
                outputs.stream().filter(java.util.Objects::nonNull).toList(), decl.span()), model);
    }

    private PipelineSettings.Output output(Ast.OutputSetting o) {
        if (!(o.value() instanceof Ast.Call c) || c.callee().size() != 1 || !FORMATS.contains(c.dotted())) {
            diagnostics.error(o.value().span(), "an output is tensors(...), png(...) or grid(...)");
            return null;
        }
        List<String> names = new ArrayList<>();
        for (Ast.Arg a : c.args()) {
            if (a.name() != null || !(a.value() instanceof Ast.Name n)) {
                diagnostics.error(a.span(), c.dotted() + "(...) takes result names, e.g. " + c.dotted() + "(samples)");
                return null;
            }
            names.add(n.dotted());
        }
        if (names.isEmpty() || (!c.dotted().equals("tensors") && names.size() != 1)) {
            diagnostics.error(c.span(), c.dotted() + "(...) takes " + (c.dotted().equals("tensors") ? "one or more result names"
                    : "exactly one result name"));
            return null;
        }
        String expectedExt = c.dotted().equals("tensors") ? ".safetensors" : ".png";
        if (!o.file().endsWith(expectedExt)) {
            diagnostics.error(o.span(), c.dotted() + "(...) writes a " + expectedExt + " file, but the output is named \""
                    + o.file() + "\"");
            return null;
        }
        return new PipelineSettings.Output(o.file(), c.dotted(), names, o.span());
    }

    private PipelineSettings.Weights weights(Ast.Expr e, Span pipelineSpan) {
        if (e == null) {
            diagnostics.error(pipelineSpan, "pipeline has no weights: add  weights = \"model.safetensors\"  or"
                    + "  weights = random(seed = 0)");
            return null;
        }
        if (e instanceof Ast.StringLit s) {
            return new PipelineSettings.Checkpoint(baseDir.resolve(s.value()).normalize(), s.span());
        }
        if (e instanceof Ast.Call c && c.dotted().equals("random")) {
            Map<String, Ast.Expr> args = named(c, Set.of("seed", "std"));
            if (args == null) {
                return null;
            }
            long seed = args.containsKey("seed") ? integer(args.get("seed"), "random(seed)") : 0;
            double std = args.containsKey("std") ? number(args.get("std"), "random(std)") : 0.02;
            return new PipelineSettings.RandomWeights(seed, std, c.span());
        }
        diagnostics.error(e.span(), "weights must be a safetensors path in quotes or random(seed = n)");
        return null;
    }

    private PipelineSettings.Inputs inputs(Ast.Expr e) {
        if (!(e instanceof Ast.Call c) || !c.dotted().equals("load") || c.args().isEmpty()
                || c.args().get(0).name() != null || !(c.args().get(0).value() instanceof Ast.StringLit file)) {
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
        return new PipelineSettings.Inputs(baseDir.resolve(file.value()).normalize(), names, c.span());
    }

    private PipelineSettings.Sampling sampling(Map<String, Ast.Expr> s, Span span) {
        String schedule = "linear";
        int scheduleSteps = 1000;
        if (s.get("schedule") instanceof Ast.Call c) {
            schedule = c.dotted();
            if (!Schedules.NAMES.contains(schedule)) {
                diagnostics.error(c.span(), "unknown schedule '" + schedule + "'" + Suggestions.didYouMean(
                        schedule, Schedules.NAMES) + " (" + String.join(", ", Schedules.NAMES) + ")");
            }
            Map<String, Ast.Expr> args = positionalOrNamed(c, List.of("steps"));
            if (args != null && args.containsKey("steps")) {
                scheduleSteps = (int) integer(args.get("steps"), "schedule steps");
            }
        } else if (s.containsKey("schedule")) {
            diagnostics.error(s.get("schedule").span(), "schedule must be a call such as linear(1000) or cosine(1000)");
        }
        String sampler = "ddim";
        int steps = 50;
        double eta = 0;
        String spacing = null;
        if (s.get("sampler") instanceof Ast.Call c) {
            sampler = c.dotted();
            if (!sampler.equals("ddim") && !sampler.equals("ddpm")) {
                diagnostics.error(c.span(), "unknown sampler '" + sampler + "' (ddim, ddpm)");
            }
            Map<String, Ast.Expr> args = named(c, Set.of("steps", "eta", "spacing"));
            if (args != null) {
                if (args.containsKey("steps")) {
                    steps = (int) integer(args.get("steps"), "sampler steps");
                }
                if (args.get("spacing") instanceof Ast.StringLit sp) {
                    spacing = sp.value();
                    Integer n = spacedSteps(spacing, scheduleSteps, sp.span());
                    if (n != null && args.containsKey("steps") && n != steps) {
                        diagnostics.error(sp.span(), "spacing \"" + spacing + "\" keeps " + n + " steps, but steps = " + steps
                                + "; give one of the two");
                    } else if (n != null) {
                        steps = n;
                    }
                } else if (args.containsKey("spacing")) {
                    diagnostics.error(args.get("spacing").span(), "spacing must be a string: \"ddim25\", \"25\" or"
                            + " section counts \"10,15,20\"");
                }
                if (args.containsKey("eta")) {
                    eta = number(args.get("eta"), "eta");
                }
            }
        } else if (s.containsKey("sampler")) {
            diagnostics.error(s.get("sampler").span(), "sampler must be ddim(steps = 50, eta = 0.0) or ddpm(steps = 250)");
        }
        if (scheduleSteps < 1) {
            diagnostics.error(s.get("schedule").span(), "a schedule needs at least 1 step, got " + scheduleSteps);
        } else if (steps < 1 || steps > scheduleSteps) {
            diagnostics.error(s.containsKey("sampler") ? s.get("sampler").span() : span, "sampler steps must be in 1.."
                    + scheduleSteps + ", got " + steps);
        }
        double scale = 1;
        String form = "dit";
        if (s.get("guidance") instanceof Ast.Call c && c.dotted().equals("cfg")) {
            Map<String, Ast.Expr> args = named(c, Set.of("scale", "form"));
            if (args != null) {
                scale = args.containsKey("scale") ? number(args.get("scale"), "guidance scale") : 4.0;
                if (args.get("form") instanceof Ast.StringLit f) {
                    form = f.value();
                    if (!form.equals("dit") && !form.equals("standard")) {
                        diagnostics.error(f.span(), "guidance form must be \"dit\" (first three channels, as published)"
                                + " or \"standard\" (all channels)");
                    }
                }
            }
        } else if (s.containsKey("guidance") && !(s.get("guidance") instanceof Ast.Name n && n.dotted().equals("none"))) {
            diagnostics.error(s.get("guidance").span(), "guidance must be cfg(scale = 4.0, form = \"dit\") or none");
        }
        long[] classes = s.containsKey("classes") ? longs(s.get("classes"), "classes") : new long[] {0};
        int[] latent = null;
        if (s.containsKey("latent")) {
            long[] l = longs(s.get("latent"), "latent");
            if (l != null && l.length != 3) {
                diagnostics.error(s.get("latent").span(), "latent must be [channels, height, width]");
            } else if (l != null) {
                latent = new int[] {(int) l[0], (int) l[1], (int) l[2]};
            }
        }
        boolean clip = s.get("clip_x0") instanceof Ast.BoolLit b && b.value();
        return new PipelineSettings.Sampling(schedule, scheduleSteps, sampler, steps, spacing, eta, scale, form, classes, latent,
                clip, span);
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
        Map<String, Ast.Expr> out = new HashMap<>();
        for (Ast.Arg a : c.args()) {
            if (a.name() == null || !allowed.contains(a.name())) {
                diagnostics.error(a.span(), c.dotted() + "(...) takes named arguments " + String.join(", ",
                        new java.util.TreeSet<>(allowed)));
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
        if (!(e instanceof Ast.ListLit l) || l.items().isEmpty()) {
            diagnostics.error(e.span(), what + " must be a non-empty list of integers, e.g. [207, 360]");
            return null;
        }
        long[] out = new long[l.items().size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = integer(l.items().get(i), what);
        }
        return out;
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
