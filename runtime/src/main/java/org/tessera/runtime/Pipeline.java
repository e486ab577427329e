package org.tessera.runtime;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.tessera.engine.diffusion.DenoisingModel;
import org.tessera.engine.diffusion.GaussianDiffusion;
import org.tessera.engine.diffusion.StepCallback;
import org.tessera.engine.graph.CompiledGraph;
import org.tessera.engine.graph.Profile;
import org.tessera.engine.tensor.Tensor;
import org.tessera.runtime.internal.CompiledPipeline;
import org.tessera.runtime.internal.ModelStage;

/**
 * A compiled pipeline: its model's forward pass as optimised plans on a device, its weights, and
 * what its script says to do (sample, or run one forward pass) and to write.
 *
 * <p>Thread safety: {@link #run}, {@link #sample} and {@link #execute} may be called from several
 * threads at once; each concurrent call uses its own execution buffers, and the weights are
 * shared. Plans are compiled per set of input shapes on first use and kept, so a batch size
 * other than the script's costs one compilation. Close the pipeline to release the weights,
 * buffers, threads and GPU.
 */
public final class Pipeline implements AutoCloseable {
    private final CompiledPipeline impl;

    Pipeline(CompiledPipeline impl) {
        this.impl = impl;
    }

    /** The pipeline's name in the script. */
    public String name() {
        return impl.settings().name();
    }

    /** The seed the script gives ({@code seed = …}), 0 when it gives none. */
    public long defaultSeed() {
        return impl.settings().seed();
    }

    /** The names of the pipeline's stages in the order they run ({@code samples} or {@code out} for the slot form). */
    public List<String> stageNames() {
        return impl.stageNames();
    }

    /**
     * Runs every stage from {@code request} (its seed, and what it overrides) and returns each
     * stage's result by name; a forward stage's inputs are among them.
     */
    public PipelineResult runStages(SampleRequest request, StepCallback callback) {
        return new PipelineResult(impl.run(request, callback));
    }

    /** The model's declared name, e.g. {@code DiT} (of the last model stage in a pipeline of stages). */
    public String modelName() {
        return impl.main().modelName();
    }

    /** Where the model runs: {@code vector}, {@code scalar} (the CPU backends) or {@code cuda-fp32}, …. */
    public String deviceName() {
        return impl.device().name();
    }

    /** The optimised plan of one forward pass at the script's shapes (pass log, FLOPs, buffer size). */
    public CompiledGraph graph() {
        return impl.main().defaultPlan().graph();
    }

    /** The forward inputs by name with the shapes the script's plan was compiled for. */
    public Map<String, int[]> inputShapes() {
        return impl.main().inputShapes();
    }

    /** True when the pipeline samples (no {@code inputs} setting). */
    public boolean isSampling() {
        return impl.main().isSampling();
    }

    /**
     * One forward pass of the model. {@code inputs} maps the model's forward input names (e.g.
     * x, t, y) to tensors; any batch size works (a plan is compiled for a new one). Returns
     * {@code out} as a fresh tensor the caller owns.
     */
    public Map<String, Tensor> run(Map<String, Tensor> inputs) {
        return impl.main().forward(inputs);
    }

    /** The forward pass on the pipeline's own {@code inputs} (forward pipelines only), with the inputs among the results. */
    public Map<String, Tensor> runForward() {
        return impl.main().runForward();
    }

    /** Samples with the pipeline's own settings from {@code seed}; returns x_0, [classes, C, H, W]. */
    public Tensor sample(long seed, StepCallback callback) {
        return impl.sample(SampleRequest.seed(seed), callback).samples();
    }

    /**
     * Samples as {@code request} says (its seed, and whatever it overrides of the pipeline's
     * classes, starting noise, steps, spacing, guidance and η).
     *
     * @throws IllegalArgumentException for a request the model cannot serve (a class out of range,
     *     x_T of the wrong shape, an invalid spacing)
     * @throws org.tessera.engine.diffusion.SamplingException when a step produces NaN or infinity
     */
    public SampleResult sample(SampleRequest request, StepCallback callback) {
        return impl.sample(request, callback);
    }

    /** {@link #sample(SampleRequest, StepCallback)} without progress reports. */
    public SampleResult sample(SampleRequest request) {
        return impl.sample(request, StepCallback.NONE);
    }

    /**
     * The pipeline's diffusion process over all T training steps, on the CPU: q(x_t | x₀)
     * ({@code qSample}), the posterior ({@code qPosterior}), {@code pMeanVariance}; pass it to
     * {@link org.tessera.engine.diffusion.Losses} and
     * {@link org.tessera.engine.diffusion.VariationalBound} for the training losses and bits/dim.
     * The variance is learned when the model outputs it, else β_t, as DiT.
     *
     * @throws IllegalStateException for a forward pipeline, or a flow model (a rectified flow is
     *     not a Gaussian diffusion)
     */
    public GaussianDiffusion diffusion() {
        return impl.main().diffusion();
    }

    /**
     * The network for batches of {@code batch}, unguided, as the diffusion core calls it:
     * {@code predict(x_t, timesteps, labels)}. Its output is a buffer valid until its next call;
     * use it from one thread and close it when done.
     *
     * @throws IllegalArgumentException when the model takes a condition from another stage (e.g.
     *     a super-resolution model), which this network has no way to receive
     */
    public Denoiser denoiser(int batch) {
        return new Denoiser(impl.main().denoiser(batch));
    }

    /** The network of {@link #denoiser(int)}: a {@link DenoisingModel} holding one set of buffers until closed. */
    public static final class Denoiser implements DenoisingModel, AutoCloseable {
        private final ModelStage.Denoiser impl;

        Denoiser(ModelStage.Denoiser impl) {
            this.impl = impl;
        }

        @Override
        public Tensor predict(Tensor xt, Tensor timesteps, Tensor conditioning) {
            return impl.predict(xt, timesteps, conditioning);
        }

        @Override
        public void close() {
            impl.close();
        }
    }

    /**
     * Runs the forward pass {@code runs} times on the pipeline's inputs (or zeros) and profiles
     * each node, after two warm-up runs.
     */
    public Profile profile(int runs) {
        return impl.main().profile(runs);
    }

    /** Milliseconds per forward pass, best of {@code runs} after two warm-ups; includes copies in and out. */
    public double forwardMillis(int runs) {
        return impl.main().forwardMillis(runs);
    }

    /**
     * Runs the pipeline as its script describes — one forward pass, or sampling from {@code seed} —
     * and writes its outputs under {@code outDir}. Returns the files written.
     */
    public List<Path> execute(Path outDir, long seed, StepCallback callback) throws IOException {
        return impl.execute(outDir, seed, callback);
    }

    @Override
    public void close() {
        impl.close();
    }
}
