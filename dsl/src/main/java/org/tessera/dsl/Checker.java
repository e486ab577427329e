package org.tessera.dsl;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.tessera.dsl.ast.Ast;
import org.tessera.dsl.diag.Diagnostics;
import org.tessera.dsl.diag.Span;
import org.tessera.dsl.sema.Loader;
import org.tessera.dsl.sema.ModelCompiler;
import org.tessera.dsl.sema.Program;
import org.tessera.dsl.sema.SettingsReader;
import org.tessera.engine.device.InsufficientMemoryException;
import org.tessera.engine.device.MemoryBudget;
import org.tessera.engine.graph.GraphBuilder;
import org.tessera.engine.graph.MemoryEstimate;
import org.tessera.engine.graph.Value;
import org.tessera.engine.io.WeightBinding;

/**
 * {@code tessera check}: parses, resolves, instantiates every model with its defaults and every
 * pipeline's model, and shape-checks their forward passes with the batch left symbolic — without
 * weights or any computation. Every file is checked, whatever the earlier ones gave.
 */
final class Checker {
    /**
     * What {@code check} binds the batch dimension B to: a prime no model would hard-code, so that
     * a shape that only works for one batch size fails here, and every message shows B instead.
     */
    static final int SYMBOLIC_BATCH = 97;

    /** What {@code check} binds a packed model's rows, row length and example count to (see {@link #lower}). */
    private static final int PACKED_STAND_IN = 5;

    private static final Pattern ELEMENTS = Pattern.compile("\\((\\d{1,12}) elements\\)");
    private static final Pattern SHAPE = Pattern.compile("\\[(\\d{1,9}(?:, \\d{1,9})*)\\]");

    private static final StepValues PROBE_STEP =
            StepValues.diffusion(0.5, 0.6, 0.4, 0.2, 0.15, Math.log(0.15), 500, 1, 3);
    private static final StepValues PROBE_FLOW_STEP = StepValues.flow(0.6, 0.3, 600.0, 1, 3);

    /** A first, a middle and a last step of each kind of process (their branches differ). */
    private static final List<List<StepValues>> PROBES = List.of(
            List.of(
                    StepValues.diffusion(0.4, 0.5, 0.4, 0.2, 0.15, Math.log(0.15), 999, 0, 3),
                    PROBE_STEP,
                    StepValues.diffusion(0.9, 1.0, 0.5, 0.1, 0.05, Math.log(0.05), 0, 2, 3)),
            List.of(StepValues.flow(1.0, 0.6, 1000.0, 0, 3), PROBE_FLOW_STEP, StepValues.flow(0.3, 0.0, 300.0, 2, 3)));

    private Checker() {}

    static Diagnostics check(List<Path> files) {
        Diagnostics all = new Diagnostics();
        for (Path f : files) {
            // Each file gets its own diagnostics, so that errors in one do not stop the checks of the next.
            Diagnostics d = new Diagnostics();
            checkFile(f, d);
            all.addAll(d);
        }
        return all;
    }

    private static void checkFile(Path f, Diagnostics d) {
        Program p = Loader.load(f, d);
        if (d.hasErrors()) {
            return;
        }
        ModelCompiler mc = new ModelCompiler(p);
        for (Ast.Decl decl : p.root().declarations()) {
            switch (decl) {
                case Ast.BlockDecl b
                when b.isModel() -> checkModel(mc, mc.instantiateDefault(b.name(), b.span()), b.span(), d);
                case Ast.BlockDecl b
                when b.isSampler() && b.params().stream().allMatch(q -> q.defaultValue() != null) ->
                    checkSampler(new SamplerDefinition(mc, new Ast.Call(List.of(b.name()), List.of(), b.span())), d);
                // A block whose parameters all have defaults is checked on its own too, when its
                // forward inputs are annotated: no model has to use it first.
                case Ast.BlockDecl b
                when b.params().stream().allMatch(param -> param.defaultValue() != null) -> checkBlock(mc, b, d);
                case Ast.AliasDecl a -> checkModel(mc, mc.instantiateDefault(a.name(), a.span()), a.span(), d);
                case Ast.PipelineDecl pd -> {
                    SettingsReader.Result s =
                            new SettingsReader(d, f.toAbsolutePath().getParent(), Map.of()).read(pd);
                    if (s != null) {
                        for (Map.Entry<String, Ast.Call> model : s.models().entrySet()) {
                            ModelCompiler.Model m = mc.instantiate(model.getValue());
                            checkModel(mc, m, model.getValue().span(), d);
                            checkClasses(m, s.settings(), model.getKey(), d);
                        }
                        for (Map.Entry<String, Ast.Call> e : s.samplers().entrySet()) {
                            boolean flow = s.settings().stages().stream()
                                    .anyMatch(st -> st.name().equals(e.getKey())
                                            && st instanceof org.tessera.dsl.pipeline.PipelineSettings.SampleStage ss
                                            && ss.sampling().isFlow());
                            int before = d.size();
                            lowers(new SamplerDefinition(mc, e.getValue()), flow);
                            d.rewriteFrom(before, Checker::symbolicBatch);
                        }
                    }
                }
                default -> {}
            }
        }
    }

    /** A sample stage's classes lie in 0..num_classes−1 of its model (run checks this too). */
    private static void checkClasses(
            ModelCompiler.Model m, org.tessera.dsl.pipeline.PipelineSettings settings, String stage, Diagnostics d) {
        if (m == null || !(m.constant("num_classes") instanceof Long n)) {
            return;
        }
        for (org.tessera.dsl.pipeline.PipelineSettings.Stage st : settings.stages()) {
            if (st instanceof org.tessera.dsl.pipeline.PipelineSettings.SampleStage ss
                    && ss.name().equals(stage)) {
                for (long c : ss.sampling().classes()) {
                    if (c < 0 || n > 0 && c >= n) {
                        d.error(
                                ss.sampling().classesSpan(),
                                "class " + c + " is outside 0.." + (n - 1) + " of " + m.name());
                        return;
                    }
                }
            }
        }
    }

    /**
     * Lowers a sampler's step at a first, a middle and a last step, on a symbolic batch of
     * [B, 4, 8, 8] quantities: on a Gaussian diffusion, or, when it does not compile there, on a
     * rectified flow (a sampler is written for one of the two). The diffusion's errors are the
     * ones reported when neither compiles.
     */
    private static void checkSampler(SamplerDefinition sampler, Diagnostics d) {
        int before = d.size();
        if (lowers(sampler, false)) {
            return;
        }
        int diffusionErrors = d.size();
        if (lowers(sampler, true)) {
            d.truncate(before);
            return;
        }
        d.truncate(diffusionErrors);
        d.rewriteFrom(before, Checker::symbolicBatch);
    }

    /**
     * Whether the sampler lowers at a first, a middle and a last step of a diffusion or a flow;
     * errors go to the diagnostics. Every quantity is [B, 4, 8, 8], the output included (a model
     * without a learned variance): shapes are checked again on the real ones when a step is planned.
     */
    static boolean lowers(SamplerDefinition sampler, boolean flow) {
        try {
            for (StepValues step : PROBES.get(flow ? 1 : 0)) {
                GraphBuilder g = new GraphBuilder();
                SamplerDefinition.LoweredStep lowered = sampler.lowerStep(
                        g, q -> g.input(q, org.tessera.engine.tensor.DType.F32, SYMBOLIC_BATCH, 4, 8, 8), step);
                g.output("x", lowered.next());
            }
            return true;
        } catch (CompilationException e) {
            return false;
        }
    }

    /** In the shapes of a message, {@code [97, 4]} → {@code [B, 4]} and {@code [194]} → {@code [2·B]}: B as the checker bound it. */
    static String symbolicBatch(String message) {
        String shapes = SHAPE.matcher(message).replaceAll(r -> {
            StringBuilder sb = new StringBuilder("[");
            String[] dims = r.group(1).split(", ");
            for (int i = 0; i < dims.length; i++) {
                long n = Long.parseLong(dims[i]);
                long k = n / SYMBOLIC_BATCH;
                sb.append(i == 0 ? "" : ", ")
                        .append(n == 0 || n % SYMBOLIC_BATCH != 0 ? dims[i] : k == 1 ? "B" : k + "·B");
            }
            return Matcher.quoteReplacement(sb.append(']').toString());
        });
        return ELEMENTS.matcher(shapes).replaceAll(r -> {
            long n = Long.parseLong(r.group(1));
            return n > 0 && n % SYMBOLIC_BATCH == 0 ? "(" + (n / SYMBOLIC_BATCH) + "·B elements)" : r.group();
        });
    }

    private static void checkBlock(ModelCompiler mc, Ast.BlockDecl b, Diagnostics d) {
        ModelCompiler.Model m = mc.instantiateDefault(b.name(), b.span());
        if (m == null || !mc.hasForward(m)) {
            return; // nothing to shape-check in a block that only holds weights and sub-blocks
        }
        boolean annotated = mc.inputs(m, Map.of("B", SYMBOLIC_BATCH)).stream()
                .allMatch(in -> in.shape() != null
                        && java.util.Arrays.stream(in.shape()).allMatch(x -> x >= 0));
        if (annotated) {
            checkModel(mc, m, b.span(), d);
        }
    }

    private static void checkModel(ModelCompiler mc, ModelCompiler.Model m, Span span, Diagnostics d) {
        if (m == null) {
            return;
        }
        int before = d.size();
        try {
            org.tessera.dsl.ModelContract contract = mc.contract(m); // checked when declared; errors are reported
            lower(mc, m, span, d, contract != null && contract.packing() != null);
        } finally {
            d.rewriteFrom(before, Checker::symbolicBatch);
        }
    }

    /**
     * Lowers a model at a symbolic batch, checking its shapes. A packed model's other sizes (rows,
     * row length, examples: whatever its annotations call them) are bound by the engine per batch,
     * so they are checked at a small stand-in size; any consistent one will do.
     */
    private static void lower(ModelCompiler mc, ModelCompiler.Model m, Span span, Diagnostics d, boolean packed) {
        GraphBuilder g = new GraphBuilder();
        List<Value> inputs = new ArrayList<>();
        int before = d.errorCount();
        Map<String, Integer> symbols = new java.util.HashMap<>(Map.of("B", SYMBOLIC_BATCH));
        if (packed) {
            for (String name : mc.shapeSymbols(m)) {
                symbols.putIfAbsent(name, PACKED_STAND_IN);
            }
        }
        List<ModelCompiler.InputSpec> specs = mc.inputs(m, symbols);
        if (d.errorCount() > before) {
            return; // an annotation that is no size, already reported at its place
        }
        for (ModelCompiler.InputSpec in : specs) {
            if (in.shape() == null) {
                d.error(
                        span,
                        m.name() + ".forward input '" + in.name() + "' needs a shape annotation such as " + in.name()
                                + ": [B, C, H, W] to be checked");
                return;
            }
            if (java.util.Arrays.stream(in.shape()).anyMatch(x -> x < 0)) {
                // Sizes other than the batch (H, W of a decoder) are bound by whoever calls it.
                d.warning(
                        span,
                        m.name() + " is not shape-checked on its own: forward input '" + in.name()
                                + "' has sizes other than B that only a caller binds");
                return;
            }
            inputs.add(g.input(in.name(), in.dtype(), in.shape()));
        }
        Value out = mc.lower(m, g, inputs, WeightBinding.placeholders(), span);
        if (out != null) {
            g.output("out", out);
            // The weights, whatever the batch: what run would refuse before allocating them
            // (run also counts the buffers, at the pipeline's real batch).
            try {
                long weights = MemoryEstimate.constantBytes(g.build());
                MemoryBudget.require(weights, m.name() + "'s weights");
            } catch (InsufficientMemoryException e) {
                d.error(span, e.getMessage());
            }
        }
    }
}
