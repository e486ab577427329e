package org.tessera.runtime.internal;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import org.tessera.dsl.ModelContract;
import org.tessera.dsl.ModelDefinition;
import org.tessera.dsl.ModelInput;
import org.tessera.engine.backend.Backend;
import org.tessera.engine.diffusion.ClassifierFreeGuidance;
import org.tessera.engine.diffusion.DdimSampler;
import org.tessera.engine.diffusion.DenoisingModel;
import org.tessera.engine.diffusion.FlowSchedule;
import org.tessera.engine.diffusion.GaussianDiffusion;
import org.tessera.engine.diffusion.Respacing;
import org.tessera.engine.diffusion.StepCallback;
import org.tessera.engine.diffusion.X0Processing;
import org.tessera.engine.graph.Execution;
import org.tessera.engine.graph.GraphBuilder;
import org.tessera.engine.graph.Planner;
import org.tessera.engine.graph.Value;
import org.tessera.engine.io.ImageOutput;
import org.tessera.engine.io.OutputSet;
import org.tessera.engine.io.VideoOutput;
import org.tessera.engine.io.WeightSource;
import org.tessera.engine.random.RandomStream;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Tensor;

/**
 * What a diffusion training run looks like so far: a grid of samples from the weights' average,
 * one per class (at most {@link #MAX_CLASSES}), written next to the checkpoints every N steps.
 * They are sampled with 50 DDIM steps (Euler steps on a flow), classifier-free guidance of scale
 * {@link #GUIDANCE} where the model has a null label, and x̂₀ clipped to the data's [−1, 1], from
 * one fixed seed: grids of successive steps differ only by what the model learnt. A clip model's
 * samples are one animated GIF, the classes side by side.
 */
final class TrainingSamples {
    static final int MAX_CLASSES = 10;
    static final int STEPS = 50;
    static final double GUIDANCE = 3.0;
    private static final long SEED = 0;

    private final int[] shape;
    private final Tensor classes;
    private final Tensor nullLabel;
    private final int channelAxis;
    private final DenoisingModel net;
    private final DiffusionTrainer.Process process;
    private final Backend cpu;

    /**
     * @param ema the weights' average (live: each grid reads its current values)
     * @param initial where the fixed and frozen weights come from
     */
    TrainingSamples(
            ModelDefinition model,
            int[] latent,
            DiffusionTrainer.Process process,
            Map<String, Tensor> ema,
            WeightSource initial,
            Predicate<String> trainable,
            Backend cpu) {
        this.process = process;
        this.cpu = cpu;
        ModelContract contract = model.contract();
        Object k = model.constant("num_classes");
        int n = contract.label() == null
                ? 1
                : (int) Math.min(MAX_CLASSES, k instanceof Long l && l > 0 ? l : MAX_CLASSES);
        long[] labels = new long[n];
        for (int i = 0; i < n; i++) {
            labels[i] = i;
        }
        classes = contract.label() == null ? null : Tensor.ofLongs(Arena.ofAuto(), labels, n);
        boolean guided = contract.label() != null && contract.nullLabel() != null;
        nullLabel = guided ? Tensor.ofLongs(Arena.ofAuto(), new long[] {contract.nullLabel()}, 1) : null;
        channelAxis = contract.splitAxis();
        shape = new int[latent.length + 1];
        shape[0] = n;
        System.arraycopy(latent, 0, shape, 1, latent.length);

        // The forward graph at the batch the sampler calls it with, the weights as inputs.
        int batch = guided ? ClassifierFreeGuidance.modelBatch(n) : n;
        GraphBuilder g = new GraphBuilder();
        List<Value> inputs = new ArrayList<>();
        Map<String, Tensor> feed = new LinkedHashMap<>(ema);
        for (ModelInput in : model.inputs(Map.of("B", batch))) {
            int[] s = shape.clone();
            s[0] = batch;
            if (in.name().equals(contract.context())) {
                // a model with context frames samples from noise alone here: S = 0, an all-zero context
                s[2]++;
                inputs.add(g.input(in.name(), DType.F32, s));
                feed.put(in.name(), Tensor.zeros(DType.F32, s));
                continue;
            }
            inputs.add(
                    in.name().equals(contract.latent())
                            ? g.input(in.name(), DType.F32, s)
                            : g.input(
                                    in.name(),
                                    in.name().equals(contract.timestep()) ? process.timestepType() : DType.I64,
                                    batch));
        }
        g.output("out", model.lowerTrainable(g, inputs, initial, trainable));
        Execution run = Planner.compile(g.build(), cpu).newExecution();
        net = (x, t, c) -> {
            feed.put(contract.latent(), x);
            feed.put(contract.timestep(), t);
            if (contract.label() != null) {
                feed.put(contract.label(), c);
            }
            return run.run(feed).get("out");
        };
    }

    /** Samples with the weights as they are now and writes the grid to {@code file}. */
    void write(Path file) throws IOException {
        DenoisingModel model = nullLabel == null
                ? net
                : new ClassifierFreeGuidance(
                        net,
                        GUIDANCE,
                        nullLabel,
                        ClassifierFreeGuidance.Channels.EPSILON,
                        channelAxis,
                        cpu.elementwise());
        Tensor x = switch (process) {
            case DiffusionTrainer.Diffusion d -> {
                GaussianDiffusion base = d.diffusion();
                GaussianDiffusion respaced = new GaussianDiffusion(
                        Respacing.respace(base.schedule(), Integer.toString(Math.min(STEPS, base.steps()))),
                        base.parameterization(),
                        base.varianceType(),
                        cpu.elementwise());
                yield new DdimSampler(respaced, 0.0, X0Processing.clip(), cpu.pool())
                        .sample(model, shape, classes, SEED, StepCallback.NONE);
            }
            case DiffusionTrainer.Flow f -> flowEuler(model, f);
        };
        try (OutputSet set = OutputSet.open()) {
            if (clips()) {
                VideoOutput.writeClip(sideBySide(x).select(0, 0), file, 4, 2, set);
            } else {
                ImageOutput.grid(x, file, set, shape[0], 2);
            }
            set.commit();
        }
    }

    /** Whether the model makes clips [F, C, H, W] (Latte's layout) rather than images. */
    boolean clips() {
        return shape.length == 5;
    }

    /** The file a grid of samples goes to: a PNG for images, an animated GIF for clips. */
    String extension() {
        return clips() ? ".gif" : ".png";
    }

    /** Clips [n, F, C, H, W] side by side as one clip [1, F, C, H, n·W], the classes left to right. */
    private static Tensor sideBySide(Tensor x) {
        int n = x.size(0);
        int w = x.size(4);
        Tensor row = Tensor.zeros(Arena.ofAuto(), DType.F32, 1, x.size(1), x.size(2), x.size(3), n * w);
        for (int i = 0; i < n; i++) {
            row.select(0, 0).slice(3, i * w, (i + 1) * w).copyFrom(x.select(0, i));
        }
        return row;
    }

    /** dx/dσ = v from σ = 1 to 0 in Euler steps on the flow's sampling levels. */
    private Tensor flowEuler(DenoisingModel model, DiffusionTrainer.Flow f) {
        FlowSchedule schedule = FlowSchedule.of(f.levels(), Math.min(STEPS, f.levels()), f.shift());
        Tensor x = Tensor.zeros(Arena.ofAuto(), DType.F32, shape);
        new RandomStream(SEED, 0).fillNormal(x, cpu.pool());
        Tensor t = Tensor.zeros(Arena.ofAuto(), DType.F32, shape[0]);
        long n = x.numel();
        for (int i = 0; i < schedule.steps(); i++) {
            for (int b = 0; b < shape[0]; b++) {
                t.storage().setAtIndex(ValueLayout.JAVA_FLOAT, t.offset() + b, (float) schedule.modelTimestep(i));
            }
            Tensor v = model.predict(x, t, classes).contiguous();
            float dt = (float) (schedule.sigmaNext(i) - schedule.sigma(i));
            for (long j = 0; j < n; j++) {
                x.storage()
                        .setAtIndex(
                                ValueLayout.JAVA_FLOAT,
                                x.offset() + j,
                                x.storage().getAtIndex(ValueLayout.JAVA_FLOAT, x.offset() + j)
                                        + dt * v.storage().getAtIndex(ValueLayout.JAVA_FLOAT, v.offset() + j));
            }
        }
        return x;
    }
}
