package org.tessera.runtime.internal;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tessera.dsl.pipeline.PipelineSettings;
import org.tessera.engine.device.ComputeDevice;
import org.tessera.engine.diffusion.StepCallback;
import org.tessera.engine.tensor.Tensor;
import org.tessera.runtime.SampleRequest;
import org.tessera.runtime.SampleResult;

/**
 * A pipeline ready to run: its device and its program of stages — model stages (sampling or one
 * forward pass), each with its own weights and plans, and tensor stages (upsampling,
 * concatenation) between them. {@code org.tessera.runtime.Pipeline} is its public face.
 */
public final class CompiledPipeline implements AutoCloseable {
    private final PipelineSettings settings;
    private final ComputeDevice device;
    private final Map<String, ModelStage> models;

    CompiledPipeline(PipelineSettings settings, ComputeDevice device, Map<String, ModelStage> models) {
        this.settings = settings;
        this.device = device;
        this.models = Map.copyOf(models);
    }

    public PipelineSettings settings() {
        return settings;
    }

    public ComputeDevice device() {
        return device;
    }

    /**
     * The model stage the single-stage API (forward, profile, denoiser, diffusion) works on: the
     * last sample stage, else the last model stage.
     */
    public ModelStage main() {
        ModelStage last = null;
        ModelStage lastSample = null;
        for (PipelineSettings.Stage st : settings.stages()) {
            if (models.containsKey(st.name())) {
                last = models.get(st.name());
                if (st instanceof PipelineSettings.SampleStage) {
                    lastSample = last;
                }
            }
        }
        return lastSample != null ? lastSample : last;
    }

    /** The model stage {@code name}. */
    public ModelStage stage(String name) {
        ModelStage m = models.get(name);
        if (m == null) {
            throw new IllegalArgumentException(
                    "no model stage '" + name + "' (model stages: " + String.join(", ", models.keySet()) + ")");
        }
        return m;
    }

    /** The stages' names in the order they run. */
    public List<String> stageNames() {
        return settings.stages().stream().map(PipelineSettings.Stage::name).toList();
    }

    /**
     * Runs every stage in order and returns their results by name (and a forward stage's inputs).
     * Sample stage k draws its noise from {@link #stageSeed}(seed, k); the request's classes,
     * steps, spacing, guidance and η apply to every sample stage, its x_T to the first.
     */
    public Map<String, Tensor> run(SampleRequest request, StepCallback callback) {
        return runAll(request, callback).results();
    }

    /** Every stage's result, and the last sample stage's full result. */
    private record Run(
            Map<String, Tensor> results,
            SampleResult lastSample,
            Map<String, long[]> classes,
            Map<String, int[][]> sizes) {}

    private Run runAll(SampleRequest request, StepCallback callback) {
        Map<String, Tensor> results = new LinkedHashMap<>();
        Map<String, long[]> sampled = new LinkedHashMap<>(); // each sample stage's classes
        Map<String, int[][]> sizes = new LinkedHashMap<>(); // a packed stage's samples' own sizes
        Map<String, PackStages.Rows> packs = new LinkedHashMap<>(); // what unpack needs of each pack stage
        SampleResult lastSample = null;
        int sampleIndex = 0;
        long sampleStages = settings.stages().stream()
                .filter(PipelineSettings.SampleStage.class::isInstance)
                .count();
        for (PipelineSettings.Stage st : settings.stages()) {
            switch (st) {
                case PipelineSettings.SampleStage s -> {
                    ModelStage m = models.get(s.name());
                    if (settings.staged()) {
                        callback.onStage(s.name(), sampleIndex, (int) sampleStages);
                    }
                    List<Tensor> conditions = new ArrayList<>();
                    s.conditions().forEach(c -> conditions.add(results.get(c)));
                    SampleRequest r = new SampleRequest(
                            stageSeed(request.seed(), sampleIndex),
                            request.classes(),
                            sampleIndex == 0 ? request.startNoise() : null,
                            request.steps(),
                            request.spacing(),
                            request.guidanceScale(),
                            request.eta());
                    SampleResult stage = m.sample(
                            r, conditions, s.init() == null ? null : results.get(s.init()), s.strength(), callback);
                    // Reported with the run's seed, which reproduces it (the stage's own is derived).
                    lastSample = new SampleResult(
                            stage.samples(),
                            stage.classes(),
                            request.seed(),
                            stage.timesteps(),
                            stage.guidanceScale(),
                            stage.sizes());
                    results.put(s.name(), stage.samples());
                    if (stage.sizes() != null) {
                        sizes.put(s.name(), stage.sizes());
                    }
                    sampled.put(s.name(), stage.classes());
                    sampleIndex++;
                }
                case PipelineSettings.ImageStage im -> {
                    try {
                        results.put(im.name(), TensorStages.image(im.path(), im.size(), im.name()));
                    } catch (java.io.IOException e) {
                        throw new java.io.UncheckedIOException(e);
                    }
                }
                case PipelineSettings.ForwardStage f ->
                    results.putAll(models.get(f.name()).runForward());
                case PipelineSettings.ApplyStage a -> {
                    ModelStage m = models.get(a.name());
                    String input = m.inputNames().get(0);
                    Tensor out = a.tile() > 0
                            ? Tiling.apply(
                                    x -> m.forward(Map.of(input, x)).get("out"),
                                    results.get(a.input()),
                                    a.tile(),
                                    a.overlap(),
                                    a.name())
                            : m.forward(Map.of(input, results.get(a.input()))).get("out");
                    results.put(a.name(), out);
                    if (a.verb().equals("classify") && sampled.containsKey(a.input())) {
                        callback.onReport(
                                a.name(),
                                Agreement.of(out, sampled.get(a.input()), a.name())
                                        .describe());
                    }
                }
                case PipelineSettings.UpsampleStage u ->
                    results.put(
                            u.name(), TensorStages.upsample(results.get(u.input()), u.factor(), u.axes(), u.name()));
                case PipelineSettings.TrainStage t ->
                    throw new IllegalStateException("stage '" + t.name() + "' trains; the assembler refuses it");
                case PipelineSettings.PackStage pk -> {
                    List<Tensor> ins = pk.inputs().stream().map(results::get).toList();
                    List<int[][]> own = pk.inputs().stream().map(sizes::get).toList();
                    PackStages.Rows rows = PackStages.pack(pk, ins, own);
                    packs.put(pk.name(), rows);
                    results.putAll(PackStages.parts(pk.name(), rows));
                    callback.onReport(pk.name(), PackStages.describe(rows));
                }
                case PipelineSettings.UnpackStage u -> {
                    PackStages.Rows rows = packs.get(u.input());
                    results.put(u.name(), PackStages.unpack(rows));
                    sizes.put(u.name(), PackStages.sizes(rows));
                }
                case PipelineSettings.ConcatStage c ->
                    results.put(
                            c.name(),
                            TensorStages.concat(
                                    c.inputs().stream().map(results::get).toList(), c.dim(), c.name()));
            }
        }
        return new Run(results, lastSample, sampled, sizes);
    }

    /**
     * The seed of the k-th sample stage: the run's seed itself for the first (so a one-stage
     * pipeline samples exactly as before), then SplitMix64 of (seed, k), so that no two stages
     * share noise and no seed of one run reappears as another stage's seed of a neighbouring run.
     */
    public static long stageSeed(long seed, int k) {
        if (k == 0) {
            return seed;
        }
        long z = seed + k * 0x9E3779B97F4A7C15L;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** Samples with the last sample stage, running the stages before it first. */
    public SampleResult sample(SampleRequest request, StepCallback callback) {
        SampleResult last = runAll(request, callback).lastSample();
        if (last == null) {
            throw new IllegalStateException(
                    "pipeline '" + settings.name() + "' has no sample stage; it runs a forward pass");
        }
        return last;
    }

    /** Runs the pipeline as its script says and writes its outputs under {@code outDir}. */
    public List<Path> execute(Path outDir, long seed, StepCallback callback) throws IOException {
        OutputWriter.refuseInputs(settings, outDir); // before the computation, not after
        Run run = runAll(SampleRequest.seed(seed), callback);
        Map<String, Tensor> results = run.results();
        Map<String, String> metadata = new LinkedHashMap<>();
        metadata.put("pipeline", settings.name());
        metadata.put("stages", String.join(",", stageNames()));
        models.values().stream()
                .map(ModelStage::modelName)
                .distinct()
                .reduce((a, b) -> a + "," + b)
                .ifPresent(m -> metadata.put("model", m));
        metadata.put("seed", Long.toString(seed));
        List<PipelineSettings.SampleStage> sampleStages = settings.stages().stream()
                .filter(PipelineSettings.SampleStage.class::isInstance)
                .map(PipelineSettings.SampleStage.class::cast)
                .toList();
        for (PipelineSettings.SampleStage s : sampleStages) {
            // how each picture was made, as image files record it (one stage: no prefix)
            String prefix = sampleStages.size() == 1 ? "" : s.name() + ".";
            PipelineSettings.Sampling sampling = s.sampling();
            String described = models.get(s.name()).samplerDescription();
            metadata.put(prefix + "sampler", described != null ? described : sampling.sampler());
            metadata.put(prefix + "steps", Integer.toString(sampling.steps()));
            metadata.put(prefix + "schedule", sampling.schedule());
            metadata.put(
                    prefix + "guidance",
                    PipelineAssembler.guided(sampling.guidanceScale())
                            ? String.format(
                                    java.util.Locale.ROOT,
                                    "cfg(scale = %s, form = \"%s\")",
                                    sampling.guidanceScale(),
                                    sampling.guidanceForm())
                            : "none");
        }
        return OutputWriter.write(settings.outputs(), results, run.classes(), run.sizes(), outDir, metadata);
    }

    @Override
    public void close() {
        RuntimeException failure = null;
        for (ModelStage m : models.values()) {
            try {
                m.close();
            } catch (RuntimeException e) { // every stage is closed, and then the device
                if (failure == null) {
                    failure = e;
                } else {
                    failure.addSuppressed(e);
                }
            }
        }
        try {
            device.close();
        } finally {
            if (failure != null) {
                throw failure;
            }
        }
    }
}
