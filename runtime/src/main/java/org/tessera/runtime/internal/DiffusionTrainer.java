package org.tessera.runtime.internal;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import org.tessera.dsl.ModelContract;
import org.tessera.dsl.ModelDefinition;
import org.tessera.dsl.ModelInput;
import org.tessera.engine.backend.Backend;
import org.tessera.engine.diffusion.GaussianDiffusion;
import org.tessera.engine.diffusion.Parameterization;
import org.tessera.engine.graph.Autodiff;
import org.tessera.engine.graph.Execution;
import org.tessera.engine.graph.GradientOps;
import org.tessera.engine.graph.GraphBuilder;
import org.tessera.engine.graph.Planner;
import org.tessera.engine.graph.Value;
import org.tessera.engine.io.WeightSource;
import org.tessera.engine.random.RandomStream;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Tensor;
import org.tessera.engine.train.LearningRate;

/**
 * Trains a class-conditional diffusion model with the simple loss of the seed notes (Ho et al.'s
 * L_simple): for data x₀, a timestep t ~ U{0, …, T−1} and noise ε ~ N(0, I), the model sees
 * x_t = √ᾱ_t·x₀ + √(1−ᾱ_t)·ε and is trained towards its contract's target (ε, x₀ or v) by the
 * mean squared error over its first C output channels. A learned variance's extra channels get no
 * gradient yet (DiT trains them with the variational bound: the hybrid loss is still to come).
 *
 * <p>Each step: the batch is noised on the host, one run of the differentiated graph gives the
 * loss and every weight's gradient, the gradients are clipped to a global norm, AdamW moves the
 * weights and the EMA follows. Labels are replaced by the null label with the dropout probability,
 * so that the model learns the unconditional prediction classifier-free guidance needs.
 * Randomness comes from counter-based streams keyed by the step, so a run is reproducible.
 */
public final class DiffusionTrainer extends Trainer {
    /** The hyper-parameters. */
    public record Settings(
            int batch,
            LearningRate learningRate,
            double weightDecay,
            double clipNorm,
            double emaDecay,
            double labelDropout,
            long seed) {}

    private final Settings settings;
    private final GaussianDiffusion diffusion;
    private final Parameterization target;
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

    /**
     * @param model the network, with a contract naming its latent, timestep and label inputs
     * @param latent one sample's shape, [C, H, W]
     * @param initial the starting weights (learned and fixed) by key
     * @param trainable which learned weights train (the others stay as {@code initial} has them)
     */
    public DiffusionTrainer(
            ModelDefinition model,
            int[] latent,
            GaussianDiffusion diffusion,
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
        this.diffusion = diffusion;
        this.host = host;
        ModelContract contract = model.contract();
        this.target = diffusion.parameterization();
        this.nullLabel = contract.nullLabel() == null ? -1 : contract.nullLabel();
        int channels = latent[0];
        int b = settings.batch();
        int[] x = new int[latent.length + 1];
        x[0] = b;
        System.arraycopy(latent, 0, x, 1, latent.length);

        GraphBuilder g = new GraphBuilder();
        List<Value> inputs = new ArrayList<>();
        for (ModelInput in : model.inputs(Map.of("B", b))) {
            if (in.name().equals(contract.latent())) {
                inputs.add(g.input(in.name(), DType.F32, x));
            } else if (in.name().equals(contract.timestep()) || in.name().equals(contract.label())) {
                inputs.add(g.input(in.name(), DType.I64, b));
            } else {
                throw new IllegalArgumentException(model.name() + ".forward input '" + in.name()
                        + "' is neither the contract's latent, timestep nor label: training conditioned"
                        + " models is not there yet");
            }
        }
        Value out = model.lowerTrainable(g, inputs, initial, trainable);
        Value prediction = out.size(1) == channels ? out : g.slice(out, 1, 0, channels);
        Value aimValue = g.input("target", DType.F32, x);
        Value d = g.sub(prediction, aimValue);
        Value sum = g.apply(new GradientOps.SumTo(new int[] {1}), List.of(g.mul(d, d)));
        g.output("loss", g.mulScalar(sum, 1f / (float) aimValue.numel()));
        run = Planner.compile(
                        Autodiff.differentiate(g.build(), "loss", learned().keySet()), host)
                .newExecution();

        xt = Tensor.zeros(DType.F32, x);
        noise = Tensor.zeros(DType.F32, x);
        aim = Tensor.zeros(DType.F32, x);
        timesteps = Tensor.zeros(DType.I64, b);
        labels = Tensor.zeros(DType.I64, b);
        t = new int[b];
        feed.putAll(weights());
        feed.put(contract.latent(), xt);
        feed.put(contract.timestep(), timesteps);
        if (contract.label() != null) {
            feed.put(contract.label(), labels);
        }
        feed.put("target", aim);
    }

    /** One optimisation step on data {@code x0} [batch, C, H, W] with class labels; returns the loss. */
    @Override
    public double step(Tensor x0, long[] classes) {
        long step = beginStep();
        int b = settings.batch();
        RandomStream draws = new RandomStream(settings.seed(), 3 * step);
        for (int i = 0; i < b; i++) {
            t[i] = Math.min(diffusion.steps() - 1, (int) (draws.uniform(i) * diffusion.steps()));
            setLong(timesteps, i, t[i]);
            boolean drop = nullLabel >= 0 && draws.uniform(b + i) < settings.labelDropout();
            setLong(labels, i, drop ? nullLabel : classes[i]);
        }
        new RandomStream(settings.seed(), 3 * step + 1).fillNormal(noise, host.pool());
        diffusion.qSampleInto(x0, t, noise, xt);
        switch (target) {
            case EPSILON -> aim.copyFrom(noise);
            case X0 -> aim.copyFrom(x0);
            case V -> diffusion.velocityInto(x0, t, noise, aim);
        }
        return update(run.run(feed));
    }
}
