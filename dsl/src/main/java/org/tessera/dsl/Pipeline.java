package org.tessera.dsl;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.tessera.dsl.pipeline.OutputWriter;
import org.tessera.dsl.pipeline.PipelineSettings;
import org.tessera.engine.backend.Backend;
import org.tessera.engine.diffusion.ClassifierFreeGuidance;
import org.tessera.engine.diffusion.DdimSampler;
import org.tessera.engine.diffusion.DdpmSampler;
import org.tessera.engine.diffusion.DenoisingModel;
import org.tessera.engine.diffusion.GaussianDiffusion;
import org.tessera.engine.diffusion.NoiseSchedule;
import org.tessera.engine.diffusion.Parameterization;
import org.tessera.engine.diffusion.Respacing;
import org.tessera.engine.diffusion.Sampler;
import org.tessera.engine.diffusion.Schedules;
import org.tessera.engine.diffusion.StepCallback;
import org.tessera.engine.diffusion.VarianceType;
import org.tessera.engine.diffusion.X0Processing;
import org.tessera.engine.graph.CompiledGraph;
import org.tessera.engine.graph.Execution;
import org.tessera.engine.graph.Profile;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Tensor;

/**
 * A compiled pipeline: the model's forward pass as an optimised graph on a backend, plus the
 * pipeline's settings (weights, sampler, guidance, outputs).
 *
 * <p>Thread safety: {@link #run}, {@link #sample} and {@link #execute} may be called from several
 * threads at once; each concurrent call uses its own execution buffers, the weights are shared.
 * Close the pipeline to release the weights and buffers.
 */
public final class Pipeline implements AutoCloseable {
    private final PipelineSettings settings;
    private final String modelName;
    private final CompiledGraph graph;
    private final Backend backend;
    private final Arena arena;
    private final List<String> inputNames;
    private final Map<String, int[]> inputShapes;
    private final Map<String, Tensor> forwardInputs;
    private final int latentChannels;
    private final long numClasses;
    private final ConcurrentLinkedQueue<Execution> idle = new ConcurrentLinkedQueue<>();
    private final List<Execution> all = new ArrayList<>();
    private final Runnable onClose;

    Pipeline(PipelineSettings settings, String modelName, CompiledGraph graph, Backend backend, Arena arena,
             List<String> inputNames, Map<String, int[]> inputShapes, Map<String, Tensor> forwardInputs,
             int latentChannels, long numClasses, Runnable onClose) {
        this.settings = settings;
        this.modelName = modelName;
        this.graph = graph;
        this.backend = backend;
        this.arena = arena;
        this.inputNames = List.copyOf(inputNames);
        this.inputShapes = inputShapes;
        this.forwardInputs = forwardInputs;
        this.latentChannels = latentChannels;
        this.numClasses = numClasses;
        this.onClose = onClose;
    }

    /** The pipeline's settings as the script (and any overrides) gave them. */
    public PipelineSettings settings() {
        return settings;
    }

    /** The optimised graph of one forward pass (pass log, FLOPs, buffer size). */
    public CompiledGraph graph() {
        return graph;
    }

    /** The model's declared name, e.g. {@code DiT}. */
    public String modelName() {
        return modelName;
    }

    /** The forward inputs by name with the shapes the graph was compiled for. */
    public Map<String, int[]> inputShapes() {
        return inputShapes;
    }

    /** True when the pipeline samples (no {@code inputs} setting). */
    public boolean isSampling() {
        return settings.sampling() != null;
    }

    /**
     * One forward pass of the model. {@code inputs} maps the model's forward input names (e.g.
     * x, t, y) to tensors of the compiled shapes. Returns {@code out} as a fresh copy.
     */
    public Map<String, Tensor> run(Map<String, Tensor> inputs) {
        Execution e = acquire();
        try {
            Tensor out = e.run(inputs).get("out");
            Map<String, Tensor> result = new LinkedHashMap<>();
            result.put("out", copy(out));
            return result;
        } finally {
            idle.add(e);
        }
    }

    /** The forward pass on the pipeline's own {@code inputs} (forward pipelines only). */
    public Map<String, Tensor> runForward() {
        if (forwardInputs == null) {
            throw new IllegalStateException("pipeline '" + settings.name() + "' samples; it has no forward inputs");
        }
        Map<String, Tensor> result = new LinkedHashMap<>(forwardInputs);
        result.putAll(run(forwardInputs));
        return result;
    }

    /**
     * Runs the forward pass {@code runs} times on the pipeline's inputs (or zeros) and profiles
     * each node, after two warm-up runs (the JIT is still compiling kernels during the first:
     * DiT-XL/2's second forward measured 10–15% faster than its first timed one).
     */
    public Profile profile(int runs) {
        Map<String, Tensor> inputs = forwardInputs != null ? forwardInputs : zeroInputs();
        Execution e = acquire();
        try {
            e.run(inputs); // warm-ups, not profiled
            e.run(inputs);
            Profile p = new Profile();
            for (int i = 0; i < runs; i++) {
                e.run(inputs, p);
            }
            return p;
        } finally {
            idle.add(e);
        }
    }

    /**
     * Milliseconds per forward pass without per-node timing: the best of {@code runs} after two
     * warm-up runs (on a GPU, the first sizes its buffers and the second records the CUDA graph
     * that the timed runs replay). Includes copying inputs in and outputs out.
     */
    public double forwardMillis(int runs) {
        Map<String, Tensor> inputs = forwardInputs != null ? forwardInputs : zeroInputs();
        Execution e = acquire();
        try {
            e.run(inputs);
            e.run(inputs);
            double best = Double.POSITIVE_INFINITY;
            for (int i = 0; i < runs; i++) {
                long t0 = System.nanoTime();
                e.run(inputs);
                best = Math.min(best, (System.nanoTime() - t0) / 1e6);
            }
            return best;
        } finally {
            idle.add(e);
        }
    }

    private Map<String, Tensor> zeroInputs() {
        Map<String, Tensor> m = new LinkedHashMap<>();
        for (String name : inputNames) {
            DType dt = name.equals(inputNames.get(0)) ? DType.F32 : DType.I64;
            m.put(name, Tensor.zeros(dt, inputShapes.get(name)));
        }
        return m;
    }

    /**
     * Samples with the pipeline's sampler, guidance and classes from {@code seed}; returns the
     * final samples [classes, C, H, W].
     */
    public Tensor sample(long seed, StepCallback callback) {
        PipelineSettings.Sampling s = settings.sampling();
        if (s == null) {
            throw new IllegalStateException("pipeline '" + settings.name() + "' is a forward pipeline; it does not sample");
        }
        int batch = s.classes().length;
        boolean guided = s.guidanceScale() != 1.0;
        NoiseSchedule base = switch (s.schedule()) {
            case "cosine" -> Schedules.cosine(s.scheduleSteps());
            case "scaled_linear" -> Schedules.scaledLinear(s.scheduleSteps(), 0.00085, 0.012);
            case "sqrt_linear" -> Schedules.sqrtLinear(s.scheduleSteps(), 0.0001, 0.02);
            default -> Schedules.linear(s.scheduleSteps());
        };
        NoiseSchedule schedule = Respacing.respace(base, Integer.toString(s.steps()));
        int[] xShape = inputShapes.get(inputNames.get(0));
        int outChannels = xShape[1];
        VarianceType variance = learnedVariance() ? VarianceType.LEARNED_RANGE : VarianceType.FIXED_SMALL;
        GaussianDiffusion diffusion = new GaussianDiffusion(schedule, Parameterization.EPSILON, variance,
                backend.elementwise());
        X0Processing x0 = s.clipX0() ? X0Processing.clip() : X0Processing.none();
        Sampler sampler = s.sampler().equals("ddpm") ? new DdpmSampler(diffusion, x0, backend.pool())
                : new DdimSampler(diffusion, s.eta(), x0, backend.pool());
        Execution e = acquire();
        try {
            DenoisingModel net = (xt, timesteps, conditioning) -> {
                Map<String, Tensor> in = new LinkedHashMap<>();
                in.put(inputNames.get(0), xt);
                in.put(inputNames.get(1), timesteps);
                if (inputNames.size() > 2) {
                    in.put(inputNames.get(2), conditioning);
                }
                return e.run(in).get("out");
            };
            Tensor labels = Tensor.ofLongs(Arena.ofAuto(), s.classes(), batch);
            DenoisingModel model = net;
            if (guided) {
                Tensor nullLabel = Tensor.ofLongs(Arena.ofAuto(), new long[] {numClasses}, 1);
                model = new ClassifierFreeGuidance(net, s.guidanceScale(), nullLabel,
                        s.guidanceForm().equals("dit") ? ClassifierFreeGuidance.Channels.DIT_FIRST_THREE
                                : ClassifierFreeGuidance.Channels.EPSILON, backend.elementwise());
            }
            int[] shape = {batch, outChannels, xShape[2], xShape[3]};
            return copy(sampler.sample(model, shape, labels, seed, callback));
        } finally {
            idle.add(e);
        }
    }

    private boolean learnedVariance() {
        int[] out = graph.optimizedGraph().outputs().get("out").shape();
        return out.length >= 2 && out[1] == 2 * latentChannels;
    }

    /**
     * Runs the pipeline as its script describes — one forward pass, or sampling from {@code seed} —
     * and writes its outputs under {@code outDir}. Returns the files written.
     */
    public List<Path> execute(Path outDir, long seed, StepCallback callback) throws IOException {
        Map<String, Tensor> results = new LinkedHashMap<>();
        if (isSampling()) {
            results.put("samples", sample(seed, callback));
        } else {
            results.putAll(runForward());
        }
        return OutputWriter.write(settings.outputs(), results, outDir, Map.of("pipeline", settings.name(),
                "model", modelName, "seed", Long.toString(seed)));
    }

    private Execution acquire() {
        Execution e = idle.poll();
        if (e != null) {
            return e;
        }
        synchronized (all) {
            Execution fresh = graph.newExecution();
            all.add(fresh);
            return fresh;
        }
    }

    private static Tensor copy(Tensor t) {
        Tensor c = Tensor.zeros(t.dtype(), t.shape());
        c.copyFrom(t);
        return c;
    }

    @Override
    public void close() {
        RuntimeException failure = null;
        synchronized (all) {
            for (Execution e : all) {
                try {
                    e.close();
                } catch (RuntimeException ex) {
                    // keep closing: the device, pools and arenas below must be released regardless
                    if (failure == null) {
                        failure = ex;
                    } else {
                        failure.addSuppressed(ex);
                    }
                }
            }
            all.clear();
        }
        try {
            onClose.run();
        } finally {
            arena.close();
        }
        if (failure != null) {
            throw failure;
        }
    }
}
