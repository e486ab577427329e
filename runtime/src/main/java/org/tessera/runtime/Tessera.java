package org.tessera.runtime;

import java.nio.file.Path;
import java.util.List;
import org.tessera.dsl.CompilationException;
import org.tessera.dsl.PipelineDefinition;
import org.tessera.dsl.Script;
import org.tessera.dsl.diag.Diagnostics;
import org.tessera.runtime.internal.OutputWriter;
import org.tessera.runtime.internal.PipelineAssembler;

/**
 * The embedding API: compile a {@code .tess} script into a runnable {@link Pipeline}.
 *
 * <pre>{@code
 * try (Pipeline p = Tessera.compile(Path.of("dit.tess"))) {
 *     SampleResult r = p.sample(SampleRequest.seed(7).withClasses(207, 360), StepCallback.NONE);
 * }
 * }</pre>
 *
 * Every problem in the script — syntax, unknown names, wrong arity, shape mismatches, weights that
 * do not fit — is reported together in one {@link CompilationException} before anything runs.
 */
public final class Tessera {
    private Tessera() {}

    /** Compiles the first pipeline of {@code file} with {@link CompileOptions#defaults()}. */
    public static Pipeline compile(Path file) {
        return compile(file, CompileOptions.defaults());
    }

    /** Compiles script text held in memory; relative paths resolve against the working directory. */
    public static Pipeline compile(String source) {
        return compile(source, CompileOptions.defaults());
    }

    /** Compiles script text held in memory with options. */
    public static Pipeline compile(String source, CompileOptions options) {
        return build(Script.parse("<script>", source, Path.of("")), options);
    }

    /** Compiles a pipeline of {@code file} with options. */
    public static Pipeline compile(Path file, CompileOptions options) {
        return build(Script.load(file), options);
    }

    /**
     * Trains the train stages of {@code file}'s pipeline ({@code let name = train(...)}) and writes
     * its outputs (the EMA weights, {@code weights(name)}) under {@code outDir}, with a checkpoint
     * and a loss curve per stage there. A stage whose checkpoint exists in {@code outDir} resumes
     * from it, and continues exactly as an uninterrupted run would, unless {@code restart}.
     *
     * @return the outputs written, or an empty list when the listener stopped the run (its
     *     checkpoint holds the progress)
     * @throws org.tessera.dsl.CompilationException when the script, its data or weights are wrong,
     *     with their {@code file:line:col}
     * @throws java.io.IOException when a checkpoint or an output cannot be read or written
     */
    public static List<Path> train(
            Path file, CompileOptions options, Path outDir, boolean restart, TrainingListener listener)
            throws java.io.IOException {
        PipelineDefinition def = Script.load(file).pipeline(options.pipeline(), options.overrides());
        return org.tessera.runtime.internal.TrainingRun.run(def, options.threadCount(), outDir, restart, listener);
    }

    /**
     * Checks files without running anything: parses, resolves, instantiates every model with its
     * defaults and every pipeline's model, and shape-checks their forward passes with the batch
     * left symbolic, and lowers every sampler the scripts name or declare. Returns every message;
     * nothing throws.
     */
    public static CheckReport check(List<Path> files) {
        Diagnostics d = Script.check(files);
        return new CheckReport(
                d.all().stream()
                        .map(m -> new CheckReport.Message(
                                m.severity() == org.tessera.dsl.diag.Diagnostic.Severity.ERROR,
                                m.span().file(),
                                m.span().line(),
                                m.span().column(),
                                m.message()))
                        .toList(),
                d.render());
    }

    /**
     * Fails early, before any long computation, when outputs cannot be written to {@code dir}
     * (creating it if needed).
     *
     * @throws java.io.IOException naming the folder and the reason
     */
    public static void checkWritable(Path dir) throws java.io.IOException {
        OutputWriter.checkWritable(dir);
    }

    private static Pipeline build(Script script, CompileOptions options) {
        PipelineDefinition def = script.pipeline(options.pipeline(), options.overrides());
        return new Pipeline(
                PipelineAssembler.assemble(def, options.device(), options.precision(), options.threadCount()));
    }
}
