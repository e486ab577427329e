package org.tessera.runtime.internal;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import org.tessera.dsl.ModelContract;
import org.tessera.dsl.ModelDefinition;
import org.tessera.dsl.ModelInput;
import org.tessera.engine.backend.Backend;
import org.tessera.engine.diffusion.ContextFrames;
import org.tessera.engine.diffusion.GaussianDiffusion;
import org.tessera.engine.diffusion.Parameterization;
import org.tessera.engine.diffusion.VarianceType;
import org.tessera.engine.graph.Execution;
import org.tessera.engine.graph.GradientOps;
import org.tessera.engine.graph.GraphBuilder;
import org.tessera.engine.graph.Value;
import org.tessera.engine.graph.VariationalBoundOps;
import org.tessera.engine.io.WeightSource;
import org.tessera.engine.random.RandomStream;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Tensor;
import org.tessera.engine.train.LearningRate;

/**
 * Trains a class-conditional diffusion model with the simple loss of the seed notes (Ho et al.'s
 * L_simple): for data x₀, a timestep t ~ U{0, …, T−1} and noise ε ~ N(0, I), the model sees
 * x_t = √ᾱ_t·x₀ + √(1−ᾱ_t)·ε and is trained towards its contract's target (ε, x₀ or v) by the
 * mean squared error over its first C output channels. A rectified flow ({@link Flow}) is trained
 * the same way towards its velocity: flow matching. A learned range of variances in C more output
 * channels is trained by the hybrid loss ({@link Diffusion#hybrid()}), which adds the variational
 * bound's term with the mean held fixed, as DiT does.
 *
 * <p>Each step: the batch is noised on the host, one run of the differentiated graph gives the
 * loss and every weight's gradient, the gradients are clipped to a global norm, AdamW moves the
 * weights and the EMA follows. Labels are replaced by the null label with the dropout probability,
 * so that the model learns the unconditional prediction classifier-free guidance needs.
 * Randomness comes from counter-based streams keyed by the step, so a run is reproducible.
 *
 * <p>A model with context frames (Video LDM's prediction mode) is also given, for each example,
 * its clip's first S frames clean, S drawn from {@link Settings#contextFrames()}, or with
 * probability {@link Settings#keyframes()} its first and last frames (keyframes to fill in
 * between); the loss still covers every frame, so it learns to keep the frames it was given as
 * well as to continue them.
 */
public final class DiffusionTrainer extends Trainer {
    /**
     * The hyper-parameters.
     *
     * @param snrGamma Min-SNR-γ weighting of each example's loss ({@link #minSnrWeight}), 0 for none
     * @param contextFrames for a model with context frames ({@link ContextFrames}): the numbers of a
     *     clip's first frames it is given, one drawn uniformly per example each step; empty for a
     *     model without
     * @param keyframes for a model with context frames: the share of examples given their first
     *     and last frames instead (keyframes to fill in between), 0 for none
     */
    public record Settings(
            int batch,
            LearningRate learningRate,
            double weightDecay,
            double clipNorm,
            double emaDecay,
            double labelDropout,
            long seed,
            double snrGamma,
            int[] contextFrames,
            double keyframes) {
        public Settings {
            contextFrames = contextFrames.clone();
        }

        /** Settings of a model without context frames. */
        public Settings(
                int batch,
                LearningRate learningRate,
                double weightDecay,
                double clipNorm,
                double emaDecay,
                double labelDropout,
                long seed,
                double snrGamma) {
            this(batch, learningRate, weightDecay, clipNorm, emaDecay, labelDropout, seed, snrGamma, new int[0], 0);
        }
    }

    /**
     * Min-SNR-γ (Hang et al. 2023, "Efficient Diffusion Training via Min-SNR Weighting Strategy"):
     * the weight of an example's mean squared error at a level of signal-to-noise ratio SNR = ᾱ/(1 − ᾱ),
     * so that its loss, seen as an error in x₀, weighs min(SNR, γ). An ε-error is an x₀-error times
     * SNR, and a v-error times SNR + 1, hence min(SNR, γ)/SNR for ε, /(SNR + 1) for v, and min(SNR, γ)
     * itself for x₀ — diffusers' {@code snr_gamma} in its training scripts. Low-noise levels, which
     * dominate ε-prediction's loss though they decide only details, are weighed down; the
     * high-noise levels that place things in the picture keep theirs.
     */
    public static double minSnrWeight(double alphaBar, double gamma, Parameterization parameterization) {
        double snr = alphaBar / (1 - alphaBar);
        double clipped = Math.min(snr, gamma);
        return switch (parameterization) {
            case EPSILON -> clipped / snr;
            case V -> clipped / (snr + 1);
            case X0 -> clipped;
        };
    }

    private final Settings settings;
    private final Process process;
    private final long nullLabel;
    private final Execution run;
    private final Map<String, Tensor> feed = new LinkedHashMap<>();
    private final Backend host;
    private final Tensor xt;
    private final Tensor noise;
    private final Tensor aim;
    private final Tensor timesteps;
    private final Tensor labels;
    private final int[] t;
    /** Each example's loss weight [B] under Min-SNR-γ, filled each step; null without it. */
    private final Tensor snrWeights;
    /** The diffusion whose bound the hybrid loss adds, or null for L_simple alone. */
    private final GaussianDiffusion hybrid;
    /** Per-sample numbers of the bound's term, [B, 7], filled each step (null without the bound). */
    private final Tensor coefficients;
    /** The context frames [B, F, C + 1, H, W], filled each step; null for a model without them. */
    private final Tensor context;
    /** Each example's context this step: which of its clip's frames each context frame is ({@link ContextFrames}). */
    private final int[][] contextMaps;

    /**
     * How a training step corrupts its data: the noise levels (T of them, one drawn uniformly per
     * example), what the model sees as the timestep, x_t, and the target of the loss.
     */
    public sealed interface Process permits Diffusion, Flow {
        /** T: a step draws a level in 0..T−1 for each example. */
        int levels();

        /** The dtype of the model's timestep input: integer steps, or a flow's σ·T. */
        DType timestepType();

        /** x_t, the target and the model's timesteps for data x₀, noise ε and the drawn levels. */
        void corrupt(Tensor x0, Tensor eps, int[] level, Tensor xt, Tensor target, Tensor timesteps);
    }

    /**
     * Gaussian diffusion, q(x_t | x₀) = N(√ᾱ_t x₀, (1 − ᾱ_t) I), towards the model's contract
     * target: ε, x₀ or v = √ᾱ_t ε − √(1 − ᾱ_t) x₀. The model sees the step t.
     *
     * @param hybrid whether the loss adds the variational bound's term L_t for the model's learned
     *     range of variances (Nichol &amp; Dhariwal's hybrid loss, as DiT trains with learn_sigma):
     *     {@link VariationalBoundOps.VlbTerm}, scaled by T/1000 as DiT's {@code RESCALED_MSE}
     */
    public record Diffusion(GaussianDiffusion diffusion, boolean hybrid) implements Process {
        /** L_simple alone. */
        public Diffusion(GaussianDiffusion diffusion) {
            this(diffusion, false);
        }

        public int levels() {
            return diffusion.steps();
        }

        public DType timestepType() {
            return DType.I64;
        }

        public void corrupt(Tensor x0, Tensor eps, int[] level, Tensor xt, Tensor target, Tensor timesteps) {
            diffusion.modelTimestepsInto(level, timesteps);
            diffusion.qSampleInto(x0, level, eps, xt);
            switch (diffusion.parameterization()) {
                case EPSILON -> target.copyFrom(eps);
                case X0 -> target.copyFrom(x0);
                case V -> diffusion.velocityInto(x0, level, eps, target);
            }
        }
    }

    /**
     * A rectified flow (flow matching, as Stable Diffusion 3 and the video models after it train):
     * x_σ = (1 − σ) x₀ + σ ε, towards the velocity v = ε − x₀. Level j is σ = shift((j + 1)/T),
     * the T training levels of {@link org.tessera.engine.diffusion.FlowSchedule} (diffusers'
     * FlowMatchEulerDiscreteScheduler draws its training σ so, uniformly), and the model sees σ·T,
     * as it does when sampled.
     */
    public record Flow(int levels, double shift) implements Process {
        public DType timestepType() {
            return DType.F32;
        }

        /** σ of level j. */
        public double sigma(int j) {
            double s = (j + 1) / (double) levels;
            return shift * s / (1 + (shift - 1) * s);
        }

        public void corrupt(Tensor x0, Tensor eps, int[] level, Tensor xt, Tensor target, Tensor timesteps) {
            int per = (int) (x0.numel() / level.length);
            MemorySegment a = x0.storage();
            MemorySegment e = eps.storage();
            MemorySegment x = xt.storage();
            MemorySegment v = target.storage();
            for (int b = 0; b < level.length; b++) {
                float sigma = (float) sigma(level[b]);
                timesteps.storage().setAtIndex(ValueLayout.JAVA_FLOAT, timesteps.offset() + b, sigma * levels);
                for (int i = b * per; i < (b + 1) * per; i++) {
                    float x0i = a.getAtIndex(ValueLayout.JAVA_FLOAT, x0.offset() + i);
                    float ei = e.getAtIndex(ValueLayout.JAVA_FLOAT, eps.offset() + i);
                    x.setAtIndex(ValueLayout.JAVA_FLOAT, xt.offset() + i, (1 - sigma) * x0i + sigma * ei);
                    v.setAtIndex(ValueLayout.JAVA_FLOAT, target.offset() + i, ei - x0i);
                }
            }
        }
    }

    /** {@link #DiffusionTrainer(ModelDefinition, int[], Process, WeightSource, Predicate, Backend, Settings)} for Gaussian diffusion. */
    public DiffusionTrainer(
            ModelDefinition model,
            int[] latent,
            GaussianDiffusion diffusion,
            WeightSource initial,
            Predicate<String> trainable,
            Backend host,
            Settings settings) {
        this(model, latent, new Diffusion(diffusion), initial, trainable, host, settings);
    }

    /**
     * @param model the network, with a contract naming its latent, timestep and label inputs
     * @param latent one sample's shape, [C, H, W]
     * @param process how the data is noised and what the model is trained towards
     * @param initial the starting weights (learned and fixed) by key
     * @param trainable which learned weights train (the others stay as {@code initial} has them)
     */
    public DiffusionTrainer(
            ModelDefinition model,
            int[] latent,
            Process process,
            WeightSource initial,
            Predicate<String> trainable,
            Backend host,
            Settings settings) {
        super(
                model,
                initial,
                trainable,
                new Optimizer(
                        settings.learningRate(), settings.weightDecay(), settings.clipNorm(), settings.emaDecay()),
                settings.seed());
        this.settings = settings;
        this.process = process;
        this.host = host;
        ModelContract contract = model.contract();
        this.nullLabel = contract.nullLabel() == null ? -1 : contract.nullLabel();
        // the channels lie on the contract's split axis: 1 for images [B, C, H, W], 2 for Latte's clips
        int axis = contract.splitAxis();
        if (axis < 1 || axis > latent.length) {
            throw new IllegalArgumentException(model.name() + ": split_axis " + axis + " is outside the latent "
                    + java.util.Arrays.toString(latent));
        }
        int channels = latent[axis - 1];
        int b = settings.batch();
        int[] x = new int[latent.length + 1];
        x[0] = b;
        System.arraycopy(latent, 0, x, 1, latent.length);

        GraphBuilder g = new GraphBuilder();
        int[] contextShape = contract.context() == null ? null : contextShape(model, x, settings.contextFrames());
        List<Value> inputs = new ArrayList<>();
        for (ModelInput in : model.inputs(Map.of("B", b))) {
            if (in.name().equals(contract.latent())) {
                inputs.add(g.input(in.name(), DType.F32, x));
            } else if (in.name().equals(contract.timestep())) {
                inputs.add(g.input(in.name(), process.timestepType(), b));
            } else if (in.name().equals(contract.label())) {
                inputs.add(g.input(in.name(), DType.I64, b));
            } else if (in.name().equals(contract.context())) {
                inputs.add(g.input(in.name(), DType.F32, contextShape));
            } else {
                throw new IllegalArgumentException(model.name() + ".forward input '" + in.name()
                        + "' is neither the contract's latent, timestep nor label: training conditioned"
                        + " models is not there yet");
            }
        }
        Value out = model.lowerTrainable(g, inputs, initial, trainable);
        Value prediction = out.size(axis) == channels ? out : g.slice(out, axis, 0, channels);
        Value aimValue = g.input("target", DType.F32, x);
        Value d = g.sub(prediction, aimValue);
        Value squared = g.mul(d, d);
        int[] perSample = new int[x.length];
        java.util.Arrays.fill(perSample, 1);
        perSample[0] = b;
        if (settings.snrGamma() > 0) {
            if (!(process instanceof Diffusion)) {
                throw new IllegalArgumentException("snr_gamma weights a diffusion schedule's levels, not a flow's");
            }
            squared = g.mul(squared, g.input(SNR_WEIGHTS, DType.F32, perSample));
        }
        Value sum = g.apply(new GradientOps.SumTo(new int[] {1}), List.of(squared));
        Value loss = g.mulScalar(sum, 1f / (float) aimValue.numel()); // the mean of the per-sample MSEs
        if (process instanceof Diffusion p && p.hybrid()) {
            this.hybrid = p.diffusion();
            checkHybrid(model, p.diffusion(), out, axis, channels);
            Value v = g.slice(out, axis, channels, 2 * channels);
            Value latentValue = inputs.get(latentIndex(model, contract, b));
            Value vb = g.apply(
                    new VariationalBoundOps.VlbTerm(p.diffusion().steps() / 1000f), // RESCALED_MSE's T/1000
                    List.of(
                            v,
                            prediction,
                            latentValue,
                            g.input("x0", DType.F32, x),
                            g.input(COEFFICIENTS, DType.F32, b, VariationalBoundOps.COLUMNS)));
            Value vbSum = g.apply(new GradientOps.SumTo(new int[] {1}), List.of(vb));
            loss = g.add(loss, g.mulScalar(vbSum, 1f / b)); // mean over samples of mse + vb
        } else {
            this.hybrid = null;
        }
        g.output("loss", loss);
        run = compileStep(g.build(), host);

        xt = Tensor.zeros(DType.F32, x);
        noise = Tensor.zeros(DType.F32, x);
        aim = Tensor.zeros(DType.F32, x);
        timesteps = Tensor.zeros(process.timestepType(), b);
        labels = Tensor.zeros(DType.I64, b);
        t = new int[b];
        feed.putAll(weights());
        feed.put(contract.latent(), xt);
        feed.put(contract.timestep(), timesteps);
        if (contract.label() != null) {
            feed.put(contract.label(), labels);
        }
        feed.put("target", aim);
        snrWeights = settings.snrGamma() > 0 ? Tensor.zeros(DType.F32, b) : null;
        if (snrWeights != null) {
            feed.put(SNR_WEIGHTS, snrWeights.reshape(perSample)); // the same memory, broadcast per sample
        }
        coefficients = hybrid == null ? null : Tensor.zeros(DType.F32, b, VariationalBoundOps.COLUMNS);
        if (coefficients != null) {
            feed.put(COEFFICIENTS, coefficients);
        }
        context = contextShape == null ? null : Tensor.zeros(DType.F32, contextShape);
        if (context != null) {
            feed.put(contract.context(), context);
        }
        contextMaps = new int[b][x[1]];
    }

    /**
     * The context input's shape for clips {@code x} [B, F, C, H, W]: one more channel, the mask;
     * checked against the numbers of frames training draws.
     */
    private static int[] contextShape(ModelDefinition model, int[] x, int[] counts) {
        if (x.length != 5) {
            throw new IllegalArgumentException(model.name() + " takes context frames, which need clips [F, C, H, W];"
                    + " the data give " + java.util.Arrays.toString(java.util.Arrays.copyOfRange(x, 1, x.length)));
        }
        if (counts.length == 0) {
            throw new IllegalArgumentException(model.name() + " takes context frames: context_frames = [0, 1, 2]");
        }
        for (int s : counts) {
            if (s >= x[1]) {
                throw new IllegalArgumentException(
                        "context_frames: " + s + " context frames leave nothing to" + " generate in a clip of " + x[1]);
            }
        }
        int[] shape = x.clone();
        shape[2]++;
        return shape;
    }

    /** The graph input of the examples' Min-SNR weights. */
    private static final String SNR_WEIGHTS = "snr.weights";

    /** The graph input of the bound's per-sample coefficients. */
    private static final String COEFFICIENTS = "vlb.coefficients";

    /** The hybrid loss needs ε-prediction and a learned range of variances in C more output channels. */
    private static void checkHybrid(
            ModelDefinition model, GaussianDiffusion diffusion, Value out, int axis, int channels) {
        if (diffusion.varianceType() != VarianceType.LEARNED_RANGE || out.size(axis) != 2 * channels) {
            throw new IllegalArgumentException("the hybrid loss trains a learned range of variances; " + model.name()
                    + " has variance = \"" + diffusion.varianceType().name().toLowerCase(java.util.Locale.ROOT)
                    + "\" and " + out.size(axis) + " output channels for " + channels
                    + " (DiT: learn_sigma = true gives both)");
        }
        if (diffusion.parameterization() != org.tessera.engine.diffusion.Parameterization.EPSILON) {
            throw new IllegalArgumentException("the hybrid loss is there for models that predict ε; " + model.name()
                    + " predicts " + diffusion.parameterization().name().toLowerCase(java.util.Locale.ROOT));
        }
    }

    /** The position of the contract's latent among the forward inputs. */
    private static int latentIndex(ModelDefinition model, ModelContract contract, int batch) {
        List<ModelInput> ins = model.inputs(Map.of("B", batch));
        for (int i = 0; i < ins.size(); i++) {
            if (ins.get(i).name().equals(contract.latent())) {
                return i;
            }
        }
        throw new IllegalArgumentException(model.name() + " has no forward input '" + contract.latent() + "'");
    }

    /** The step's plan, and for a model with context frames what each example is given. */
    @Override
    String planSummary() {
        if (context == null) {
            return super.planSummary();
        }
        int[] counts = settings.contextFrames();
        String given = java.util.Arrays.stream(counts)
                .mapToObj(Integer::toString)
                .collect(java.util.stream.Collectors.joining(", "));
        String summary = super.planSummary() + "; each example is given its first " + given
                + (counts.length > 1 ? " frames, drawn uniformly" : " frames")
                + (settings.keyframes() > 0
                        ? ", or with probability " + settings.keyframes() + " its first and last (keyframes)"
                        : "");
        boolean none = java.util.Arrays.stream(counts).anyMatch(c -> c == 0);
        return none
                ? summary
                : summary + " (never none: sampling from noise, guidance and sample_every give no frames, which"
                        + " this training does not show the model; add 0 to context_frames)";
    }

    /** The context frames the last step gave the model, [B, F, C + 1, H, W]; null for a model without them. */
    Tensor context() {
        return context;
    }

    /** How the data is noised and what the model is trained towards. */
    Process process() {
        return process;
    }

    /** One optimisation step on data {@code x0} [batch, C, H, W] with class labels; returns the loss. */
    @Override
    public double step(Tensor x0, long[] classes) {
        long step = beginStep();
        int b = settings.batch();
        RandomStream draws = new RandomStream(settings.seed(), 3 * step);
        int levels = process.levels();
        for (int i = 0; i < b; i++) {
            t[i] = Math.min(levels - 1, (int) (draws.uniform(i) * levels));
            boolean drop = nullLabel >= 0 && draws.uniform(b + i) < settings.labelDropout();
            setLong(labels, i, drop ? nullLabel : classes[i]);
        }
        if (context != null) {
            // Each example's context, from the same stream as t and the labels' dropout, further on:
            // its first and last frames with probability `keyframes`, else its first S, S drawn
            int[] counts = settings.contextFrames();
            int frames = x0.size(1);
            for (int i = 0; i < b; i++) {
                int[] map = contextMaps[i];
                java.util.Arrays.fill(map, ContextFrames.GENERATED);
                if (draws.uniform(3 * b + i) < settings.keyframes()) {
                    map[0] = 0;
                    map[frames - 1] = frames - 1;
                } else {
                    int s = counts[Math.min(counts.length - 1, (int) (draws.uniform(2 * b + i) * counts.length))];
                    for (int f = 0; f < s; f++) {
                        map[f] = f;
                    }
                }
            }
            ContextFrames.fill(x0, contextMaps, context);
        }
        new RandomStream(settings.seed(), 3 * step + 1).fillNormal(noise, host.pool());
        process.corrupt(x0, noise, t, xt, aim, timesteps);
        if (snrWeights != null && process instanceof Diffusion p) {
            GaussianDiffusion diffusion = p.diffusion();
            for (int i = 0; i < b; i++) {
                double alphaBar = diffusion.schedule().alphaBar(t[i]);
                snrWeights.setFloat(
                        (float) minSnrWeight(alphaBar, settings.snrGamma(), diffusion.parameterization()), i);
            }
        }
        if (hybrid != null) {
            VariationalBoundOps.fillCoefficients(hybrid.schedule(), t, coefficients);
            feed.put("x0", x0);
        }
        return update(run.run(feed));
    }
}
