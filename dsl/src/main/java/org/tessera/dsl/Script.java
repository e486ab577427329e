package org.tessera.dsl;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.tessera.dsl.ast.Ast;
import org.tessera.dsl.diag.Diagnostics;
import org.tessera.dsl.diag.Span;
import org.tessera.dsl.pipeline.PipelineSettings;
import org.tessera.dsl.sema.Loader;
import org.tessera.dsl.sema.ModelCompiler;
import org.tessera.dsl.sema.Program;
import org.tessera.dsl.sema.SettingsReader;

/**
 * The compiler's front door: a {@code .tess} file and its imports, parsed and resolved. Every
 * problem found is reported together, with {@code file:line:col}, in one
 * {@link CompilationException}.
 */
public final class Script {
    private final Program program;
    private final Path dir;

    private Script(Program program, Path dir) {
        this.program = program;
        this.dir = dir;
    }

    /** Loads {@code file} and its imports; relative paths in it resolve against its folder. */
    public static Script load(Path file) {
        Program p = Loader.load(file, new Diagnostics());
        return checked(p, file.toAbsolutePath().getParent());
    }

    /** Script text held in memory, named {@code name} in messages; paths resolve against {@code dir}. */
    public static Script parse(String name, String text, Path dir) {
        Program p = Loader.loadText(name, text, dir.toAbsolutePath(), new Diagnostics());
        return checked(p, dir.toAbsolutePath());
    }

    private static Script checked(Program p, Path dir) {
        if (p.diagnostics().hasErrors()) {
            throw new CompilationException(p.diagnostics());
        }
        return new Script(p, dir);
    }

    /**
     * Checks files without running anything; see {@link Checker}. Returns every diagnostic; none
     * throws.
     */
    public static Diagnostics check(List<Path> files) {
        return Checker.check(files);
    }

    /** The names of the root file's pipelines, in order. */
    public List<String> pipelineNames() {
        return program.pipelines().stream().map(Ast.PipelineDecl::name).toList();
    }

    /**
     * The pipeline {@code name} (null: the first), its settings with {@code overrides} applied
     * ({@code key → value text}, as {@code --set} gives them) and its model instantiated.
     *
     * @throws CompilationException for an unknown pipeline, bad settings or a model that does not
     *     instantiate
     */
    public PipelineDefinition pipeline(String name, Map<String, String> overrides) {
        Diagnostics d = program.diagnostics();
        Ast.PipelineDecl decl = pick(name, d);
        if (decl == null) {
            throw new CompilationException(d);
        }
        SettingsReader.Result read = new SettingsReader(d, dir, overrides).read(decl);
        if (read == null) {
            throw new CompilationException(d);
        }
        ModelCompiler mc = new ModelCompiler(program);
        Map<String, ModelDefinition> models = new java.util.LinkedHashMap<>();
        for (Map.Entry<String, Ast.Call> e : read.models().entrySet()) {
            ModelCompiler.Model model = mc.instantiate(e.getValue());
            if (model != null) {
                models.put(
                        e.getKey(), new ModelDefinition(mc, model, e.getValue().span()));
            }
        }
        Map<String, SamplerDefinition> samplers = new java.util.LinkedHashMap<>();
        for (Map.Entry<String, Ast.Call> e : read.samplers().entrySet()) {
            SamplerDefinition sampler = new SamplerDefinition(mc, e.getValue());
            // Lowered here at a first, a middle and a last step: unknown samplers, bad arguments,
            // and a sampler written for the other kind of process (flow or diffusion) fail now.
            boolean flow = read.settings().stages().stream()
                    .filter(st -> st.name().equals(e.getKey()) && st instanceof PipelineSettings.SampleStage)
                    .anyMatch(
                            st -> ((PipelineSettings.SampleStage) st).sampling().isFlow());
            if (Checker.lowers(sampler, flow)) {
                samplers.put(e.getKey(), sampler);
            } else if (d.hasErrors()) {
                d.error(
                        sampler.span(),
                        "sampler " + sampler.name() + " does not compile on this pipeline's "
                                + (flow ? "flow" : "diffusion") + " schedule (the errors above say where)");
            }
        }
        if (d.hasErrors()) {
            throw new CompilationException(d);
        }
        return new PipelineDefinition(read.settings(), models, samplers, d);
    }

    private Ast.PipelineDecl pick(String name, Diagnostics d) {
        List<Ast.PipelineDecl> all = program.pipelines();
        Span where = new Span(program.root().path(), 1, 1, 1, 1);
        if (all.isEmpty()) {
            d.error(
                    where,
                    "no pipeline in " + program.root().path() + "; add  pipeline name { model = ..., weights = ... }");
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
        d.error(where, "no pipeline named '" + name + "' (pipelines: " + String.join(", ", pipelineNames()) + ")");
        return null;
    }
}
