package org.tessera.dsl;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tessera.dsl.ast.Ast;
import org.tessera.dsl.diag.Diagnostics;
import org.tessera.dsl.diag.Span;
import org.tessera.dsl.pipeline.PipelineSettings;
import org.tessera.dsl.pipeline.SettingsReader;
import org.tessera.dsl.pipeline.WeightBinding;
import org.tessera.dsl.sema.Loader;
import org.tessera.dsl.sema.ModelCompiler;
import org.tessera.dsl.sema.Program;
import org.tessera.engine.backend.Backend;
import org.tessera.engine.backend.Backends;
import org.tessera.engine.cuda.CudaBackend;
import org.tessera.engine.cuda.CudaDevice;
import org.tessera.engine.cuda.CudaUnavailableException;
import org.tessera.ffi.Cuda;
import org.tessera.ffi.CudaException;
import org.tessera.engine.graph.CompiledGraph;
import org.tessera.engine.graph.GraphBuilder;
import org.tessera.engine.graph.Planner;
import org.tessera.engine.graph.Value;
import org.tessera.engine.io.SafetensorsReader;
import org.tessera.engine.io.WeightsFormatException;
import org.tessera.engine.parallel.WorkerPool;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Tensor;

/**
 * The embedding API: compile a {@code .tess} script into a runnable {@link Pipeline}.
 *
 * <pre>{@code
 * try (Pipeline p = Tessera.compile(Path.of("dit.tess"))) {
 *     Tensor samples = p.sample(7, StepCallback.NONE);
 * }
 * }</pre>
 *
 * Every problem in the script — syntax, unknown names, wrong arity, shape mismatches, weights that
 * do not fit — is reported together in one {@link CompilationException} before anything runs.
 */
public final class Tessera {
    private Tessera() {}

    /** Compiles the first pipeline of {@code file} for the CPU with all processors. */
    public static Pipeline compile(Path file) {
        return compile(file, CompileOptions.defaults());
    }

    /** Compiles script text held in memory; relative paths resolve against the working directory. */
    public static Pipeline compile(String source) {
        Diagnostics d = new Diagnostics();
        Program p = Loader.loadText("<script>", source, Path.of("").toAbsolutePath(), d);
        return build(p, Path.of("").toAbsolutePath(), CompileOptions.defaults());
    }

    /** Compiles a pipeline of {@code file} with options. */
    public static Pipeline compile(Path file, CompileOptions options) {
        Diagnostics d = new Diagnostics();
        Program p = Loader.load(file, d);
        Path dir = file.toAbsolutePath().getParent();
        return build(p, dir, options);
    }

    /**
     * Checks files without running anything: parses, resolves, instantiates every model with its
     * defaults and every pipeline's model, and shape-checks their forward passes (with a batch of
     * 2 where the batch is symbolic). Returns all diagnostics; none of them throw.
     */
    public static Diagnostics check(List<Path> files) {
        Diagnostics d = new Diagnostics();
        for (Path f : files) {
            Program p = Loader.load(f, d);
            if (d.hasErrors()) {
                continue;
            }
            ModelCompiler mc = new ModelCompiler(p);
            for (Ast.Decl decl : p.root().declarations()) {
                switch (decl) {
                    case Ast.BlockDecl b when b.isModel() -> checkModel(mc, mc.instantiateDefault(b.name(), b.span()), b.span(), d);
                    // A block whose parameters all have defaults is checked on its own too, when its
                    // forward inputs are annotated: no model has to use it first.
                    case Ast.BlockDecl b when b.params().stream().allMatch(param -> param.defaultValue() != null) ->
                            checkBlock(mc, b, d);
                    case Ast.AliasDecl a -> checkModel(mc, mc.instantiateDefault(a.name(), a.span()), a.span(), d);
                    case Ast.PipelineDecl pd -> {
                        PipelineSettings s = new SettingsReader(d, f.toAbsolutePath().getParent(), Map.of()).read(pd);
                        if (s != null && s.model() != null) {
                            checkModel(mc, mc.instantiate(s.model()), s.model().span(), d);
                        }
                    }
                    default -> { }
                }
            }
        }
        return d;
    }

    /**
     * What {@code check} binds the batch dimension B to: a prime no model would hard-code, so that
     * a shape that only works for one batch size fails here, and every message shows B instead.
     */
    static final int SYMBOLIC_BATCH = 97;
    /** A shape as messages print it: {@code [97, 4]}. */
    private static final java.util.regex.Pattern ELEMENTS = java.util.regex.Pattern.compile("\\((\\d{1,12}) elements\\)");
    private static final java.util.regex.Pattern SHAPE = java.util.regex.Pattern.compile("\\[(\\d{1,9}(?:, \\d{1,9})*)\\]");

    /** In the shapes of a message, {@code [97, 4]} → {@code [B, 4]} and {@code [194]} → {@code [2·B]}: B as the checker bound it. */
    static String symbolicBatch(String message) {
        String shapes = SHAPE.matcher(message).replaceAll(r -> {
            StringBuilder sb = new StringBuilder("[");
            String[] dims = r.group(1).split(", ");
            for (int i = 0; i < dims.length; i++) {
                long n = Long.parseLong(dims[i]);
                long k = n / SYMBOLIC_BATCH;
                sb.append(i == 0 ? "" : ", ").append(n == 0 || n % SYMBOLIC_BATCH != 0 ? dims[i] : k == 1 ? "B" : k + "·B");
            }
            return java.util.regex.Matcher.quoteReplacement(sb.append(']').toString());
        });
        return ELEMENTS.matcher(shapes).replaceAll(r -> {
            long n = Long.parseLong(r.group(1));
            return n > 0 && n % SYMBOLIC_BATCH == 0 ? "(" + (n / SYMBOLIC_BATCH) + "·B elements)" : r.group();
        });
    }

    private static void checkBlock(ModelCompiler mc, Ast.BlockDecl b, Diagnostics d) {
        ModelCompiler.Model m = mc.instantiateDefault(b.name(), b.span());
        if (m == null) {
            return;
        }
        boolean annotated = mc.inputs(m, Map.of("B", SYMBOLIC_BATCH)).stream()
                .allMatch(in -> in.shape() != null && java.util.Arrays.stream(in.shape()).allMatch(x -> x >= 0));
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
            lowerForCheck(mc, m, span, d);
        } finally {
            d.rewriteFrom(before, Tessera::symbolicBatch);
        }
    }

    private static void lowerForCheck(ModelCompiler mc, ModelCompiler.Model m, Span span, Diagnostics d) {
        GraphBuilder g = new GraphBuilder();
        List<Value> inputs = new ArrayList<>();
        for (ModelCompiler.InputSpec in : mc.inputs(m, Map.of("B", SYMBOLIC_BATCH))) {
            if (in.shape() == null || java.util.Arrays.stream(in.shape()).anyMatch(x -> x < 0)) {
                d.error(span, m.name() + ".forward input '" + in.name() + "' needs a shape annotation such as "
                        + in.name() + ": [B, C, H, W] to be checked");
                return;
            }
            inputs.add(g.input(in.name(), in.dtype(), in.shape()));
        }
        Value out = mc.lower(m, g, inputs, WeightBinding.placeholders(), span);
        if (out != null) {
            g.output("out", out);
        }
    }

    private static Pipeline build(Program program, Path dir, CompileOptions options) {
        Diagnostics d = program.diagnostics();
        if (d.hasErrors()) {
            throw new CompilationException(d);
        }
        Ast.PipelineDecl decl = pickPipeline(program, options.pipeline(), d);
        if (decl == null) {
            throw new CompilationException(d);
        }
        PipelineSettings settings = new SettingsReader(d, dir, options.overrides()).read(decl);
        if (settings == null) {
            throw new CompilationException(d);
        }
        ModelCompiler mc = new ModelCompiler(program);
        ModelCompiler.Model model = mc.instantiate(settings.model());
        if (model == null) {
            throw new CompilationException(d);
        }
        Arena arena = Arena.ofShared();
        List<Arena> weightArenas = java.util.Collections.synchronizedList(new ArrayList<>());
        WorkerPool pool = new WorkerPool(options.threadCount());
        SafetensorsReader checkpoint = null;
        CudaDevice gpu = null;
        boolean ok = false;
        try {
            // The host backend does the sampler's arithmetic and makes random weights; the model
            // runs on the GPU when one is chosen.
            Backend host = Backends.cpu(pool, System.err::println);
            gpu = openDevice(options.device(), decl, d);
            Backend backend = gpu == null ? host
                    : CudaBackend.create(gpu, CudaBackend.Precision.valueOf(options.precision().toUpperCase(java.util.Locale.ROOT)));
            if (gpu == null && !options.precision().equals("fp32") && !options.device().equals("cpu")) {
                System.err.println("tessera: warning: --precision " + options.precision()
                        + " applies to the GPU; the CPU computes in fp32");
            }
            WeightBinding.Bound weights;
            switch (settings.weights()) {
                case PipelineSettings.Checkpoint c -> {
                    try {
                        checkpoint = SafetensorsReader.open(c.path());
                    } catch (IOException | WeightsFormatException e) {
                        d.error(c.span(), "cannot load weights: " + describe(e));
                        throw new CompilationException(d);
                    }
                    String mismatch = WeightBinding.mismatch(checkpoint, model.weightShapes(), model.name());
                    if (mismatch != null) {
                        d.error(c.span(), mismatch);
                        throw new CompilationException(d);
                    }
                    weights = WeightBinding.checkpoint(checkpoint, arena);
                }
                case PipelineSettings.RandomWeights r -> weights = WeightBinding.random(r.seed(), r.std(), host, weightArenas);
            }
            // Inputs: from a file (forward pipelines) or from the model's annotated shapes (sampling).
            Map<String, Tensor> forwardInputs = null;
            Map<String, int[]> shapes = new LinkedHashMap<>();
            Map<String, DType> dtypes = new HashMap<>();
            List<ModelCompiler.InputSpec> specs;
            if (settings.inputs() != null) {
                forwardInputs = loadInputs(settings.inputs(), arena, d);
                specs = mc.inputs(model, Map.of("B", forwardInputs.values().iterator().next().size(0)));
                for (ModelCompiler.InputSpec in : specs) {
                    Tensor t = forwardInputs.get(in.name());
                    if (t == null) {
                        d.error(settings.inputs().span(), "load(...) gives no tensor for forward input '" + in.name() + "'");
                        throw new CompilationException(d);
                    }
                    shapes.put(in.name(), t.shape());
                    dtypes.put(in.name(), t.dtype());
                }
            } else {
                PipelineSettings.Sampling s = settings.sampling();
                int batch = s.classes().length * (s.guidanceScale() != 1.0 ? 2 : 1);
                specs = mc.inputs(model, Map.of("B", batch));
                if (specs.size() < 2 || specs.size() > 3) {
                    d.error(settings.model().span(), "a sampling pipeline needs a model whose forward takes (x, t) or (x, t, y)");
                    throw new CompilationException(d);
                }
                for (int i = 0; i < specs.size(); i++) {
                    ModelCompiler.InputSpec in = specs.get(i);
                    int[] shape = in.shape();
                    if (i == 0 && s.latent() != null) {
                        shape = new int[] {batch, s.latent()[0], s.latent()[1], s.latent()[2]};
                    }
                    if (shape == null || java.util.Arrays.stream(shape).anyMatch(x -> x < 0)) {
                        d.error(settings.model().span(), model.name() + ".forward input '" + in.name()
                                + "' has no shape annotation; the pipeline cannot size it");
                        throw new CompilationException(d);
                    }
                    shapes.put(in.name(), shape);
                    dtypes.put(in.name(), i == 0 ? DType.F32 : DType.I64);
                }
            }
            GraphBuilder g = new GraphBuilder();
            List<Value> inputs = new ArrayList<>();
            for (ModelCompiler.InputSpec in : specs) {
                inputs.add(g.input(in.name(), dtypes.get(in.name()), shapes.get(in.name())));
            }
            Value out = mc.lower(model, g, inputs, weights.source(), settings.model().span());
            if (out == null || d.hasErrors()) {
                throw new CompilationException(d);
            }
            g.output("out", out);
            CompiledGraph compiled = Planner.compile(g.build(), backend, host, Planner.Options.DEFAULT, weights.release());
            Object classes = model.constant("num_classes");
            int latentChannels = shapes.get(specs.get(0).name())[1];
            SafetensorsReader file = checkpoint;
            CudaDevice device = gpu;
            Pipeline p = new Pipeline(settings, model.name(), compiled, host, arena,
                    specs.stream().map(ModelCompiler.InputSpec::name).toList(), shapes, forwardInputs, latentChannels,
                    classes instanceof Long n ? n : 0L, () -> {
                        if (file != null) {
                            file.close();
                        }
                        closeAll(weightArenas);
                        pool.close();
                        if (device != null) {
                            device.close();
                        }
                    });
            ok = true;
            return p;
        } finally {
            if (!ok) {
                if (checkpoint != null) {
                    checkpoint.close();
                }
                closeAll(weightArenas);
                pool.close();
                arena.close();
                if (gpu != null) {
                    gpu.close();
                }
            }
        }
    }

    /**
     * The GPU for {@code --device}: none for {@code cpu}; for {@code cuda} GPU 0 or a diagnostic
     * saying why not; for {@code auto} GPU 0 when CUDA is usable, else the CPU (with one warning
     * line when CUDA is present but fails to start).
     */
    private static CudaDevice openDevice(String device, Ast.PipelineDecl decl, Diagnostics d) {
        if (device.equals("cpu") || device.equals("auto") && !Cuda.probe().available()) {
            return null;
        }
        try {
            return CudaDevice.open(0);
        } catch (CudaUnavailableException | CudaException e) {
            if (device.equals("cuda")) {
                d.error(decl.span(), "--device cuda: " + e.getMessage());
                throw new CompilationException(d);
            }
            warnFallback(e);
            return null;
        } catch (RuntimeException e) {
            // auto must not fail where the CPU would work: a kernel cache or setup problem falls back.
            if (device.equals("cuda")) {
                throw e;
            }
            warnFallback(e);
            return null;
        }
    }

    private static void warnFallback(RuntimeException e) {
        String first = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage().lines().findFirst().orElse("");
        System.err.println("tessera: warning: CUDA is present but could not start (" + first + "); running on the CPU");
    }

    private static void closeAll(List<Arena> arenas) {
        synchronized (arenas) {
            for (Arena a : arenas) {
                a.close();
            }
            arenas.clear();
        }
    }

    private static String describe(Exception e) {
        return switch (e) {
            case java.nio.file.NoSuchFileException n -> "no such file " + n.getFile();
            case java.nio.file.AccessDeniedException a -> "permission denied: " + a.getFile();
            default -> String.valueOf(e.getMessage());
        };
    }

    private static Ast.PipelineDecl pickPipeline(Program program, String name, Diagnostics d) {
        List<Ast.PipelineDecl> all = program.pipelines();
        Span where = new Span(program.root().path(), 1, 1, 1, 1);
        if (all.isEmpty()) {
            d.error(where, "no pipeline in " + program.root().path() + "; add  pipeline name { model = ..., weights = ... }");
            return null;
        }
        if (name == null) {
            return all.get(0);
        }
        for (Ast.PipelineDecl p : all) {
            if (p.name().equals(name)) {
                return p;
            }
        }
        d.error(where, "no pipeline named '" + name + "' (pipelines: " + String.join(", ",
                all.stream().map(Ast.PipelineDecl::name).toList()) + ")");
        return null;
    }

    private static Map<String, Tensor> loadInputs(PipelineSettings.Inputs in, Arena arena, Diagnostics d) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        try (SafetensorsReader r = SafetensorsReader.open(in.path())) {
            for (Map.Entry<String, String> e : in.names().entrySet()) {
                if (!r.contains(e.getValue())) {
                    d.error(in.span(), in.path().getFileName() + " has no tensor '" + e.getValue() + "'");
                    continue;
                }
                Tensor src = r.tensor(e.getValue());
                Tensor t = Tensor.zeros(arena, src.dtype(), src.shape());
                t.copyFrom(src); // the reader's mapping closes below
                out.put(e.getKey(), t);
            }
        } catch (IOException | WeightsFormatException e) {
            d.error(in.span(), "cannot load inputs: " + describe(e));
        }
        if (d.hasErrors() || out.isEmpty()) {
            if (!d.hasErrors()) {
                d.error(in.span(), "load(...) names no inputs");
            }
            throw new CompilationException(d);
        }
        return out;
    }
}
