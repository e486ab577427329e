package org.tessera.engine.diffusion;

import java.lang.foreign.Arena;
import java.util.Arrays;
import java.util.function.IntToDoubleFunction;
import org.tessera.engine.backend.ElementwiseOps;
import org.tessera.engine.tensor.ShapeMismatchException;
import org.tessera.engine.tensor.Shapes;
import org.tessera.engine.tensor.Tensor;

/**
 * The Gaussian diffusion process of Ho et al. (2020) over a {@link NoiseSchedule}: the forward
 * process q, its posterior, and the reverse step p_θ built from a model's output, following
 * facebookresearch/DiT's {@code gaussian_diffusion.py}.
 *
 * <p>Tensors are batches [B, C, …] of F32 with one timestep per sample ({@code int[] t} of
 * length B, indices into this schedule). Schedule coefficients are looked up in double and
 * rounded to float once per sample, as the reference's {@code _extract_into_tensor} does; the
 * tensor arithmetic runs through the backend's {@link ElementwiseOps}. Results are new tensors
 * freed by the garbage collector.
 */
public final class GaussianDiffusion {
    /** A diagonal Gaussian: mean, variance and log variance, each broadcast to the batch's shape. */
    public record Gaussian(Tensor mean, Tensor variance, Tensor logVariance) {}

    /**
     * The reverse step p_θ(x_{t−1} | x_t): its Gaussian, the model's (processed) estimate of
     * x_0, and the raw model output it came from.
     */
    public record Prediction(Tensor mean, Tensor variance, Tensor logVariance, Tensor predictedX0, Tensor modelOutput) {
        /** The reverse step as a {@link Gaussian}. */
        public Gaussian gaussian() {
            return new Gaussian(mean, variance, logVariance);
        }
    }

    private final NoiseSchedule schedule;
    private final Parameterization parameterization;
    private final VarianceType varianceType;
    private final ElementwiseOps ops;

    public GaussianDiffusion(NoiseSchedule schedule, Parameterization parameterization, VarianceType varianceType,
            ElementwiseOps ops) {
        this.schedule = schedule;
        this.parameterization = parameterization;
        this.varianceType = varianceType;
        this.ops = ops;
    }

    public NoiseSchedule schedule() {
        return schedule;
    }

    public Parameterization parameterization() {
        return parameterization;
    }

    public VarianceType varianceType() {
        return varianceType;
    }

    public ElementwiseOps ops() {
        return ops;
    }

    /** T, the number of steps of this (possibly respaced) process. */
    public int steps() {
        return schedule.steps();
    }

    // ---------------------------------------------------------------- forward process

    /** One forward step q(x_t | x_{t−1}) = N(√(1−β_t) x_{t−1}, β_t I). */
    public Gaussian qStep(Tensor xPrev, int[] t) {
        check("qStep", xPrev, t);
        double[] scale = perSample(t, s -> Math.sqrt(1 - schedule.beta(s)));
        double[] var = perSample(t, schedule::beta);
        return new Gaussian(scaled(scale, xPrev), Buffers.perSample(var, xPrev.shape()),
                Buffers.perSample(log(var), xPrev.shape()));
    }

    /** q(x_t | x_0) = N(√ᾱ_t x_0, (1 − ᾱ_t) I), in closed form. */
    public Gaussian qMarginal(Tensor x0, int[] t) {
        check("qMarginal", x0, t);
        double[] var = perSample(t, s -> 1 - schedule.alphaBar(s));
        return new Gaussian(scaled(perSample(t, s -> Math.sqrt(schedule.alphaBar(s))), x0),
                Buffers.perSample(var, x0.shape()), Buffers.perSample(log(var), x0.shape()));
    }

    /** A sample of q(x_t | x_0): x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε. */
    public Tensor qSample(Tensor x0, int[] t, Tensor noise) {
        check("qSample", x0, t);
        sameShape("qSample", "noise", x0, noise);
        return combine(perSample(t, s -> Math.sqrt(schedule.alphaBar(s))), x0,
                perSample(t, s -> Math.sqrt(1 - schedule.alphaBar(s))), noise);
    }

    /**
     * The posterior q(x_{t−1} | x_t, x_0) = N(c1_t x_0 + c2_t x_t, β̃_t I), with the log variance
     * clipped at t = 0 as in {@link NoiseSchedule#posteriorLogVarianceClipped}.
     */
    public Gaussian qPosterior(Tensor x0, Tensor xt, int[] t) {
        check("qPosterior", x0, t);
        sameShape("qPosterior", "x_t", x0, xt);
        Tensor mean = combine(perSample(t, schedule::posteriorMeanCoef1), x0, perSample(t, schedule::posteriorMeanCoef2), xt);
        return new Gaussian(mean, Buffers.perSample(perSample(t, schedule::posteriorVariance), x0.shape()),
                Buffers.perSample(perSample(t, schedule::posteriorLogVarianceClipped), x0.shape()));
    }

    // ---------------------------------------------------------------- conversions between targets

    /** x_0 = √(1/ᾱ_t) x_t − √(1/ᾱ_t − 1) ε. */
    public Tensor x0FromEps(Tensor xt, int[] t, Tensor eps) {
        return combine(perSample(t, s -> Math.sqrt(1 / schedule.alphaBar(s))), xt,
                perSample(t, s -> -Math.sqrt(1 / schedule.alphaBar(s) - 1)), eps);
    }

    /** ε = (x_t − √ᾱ_t x_0) / √(1−ᾱ_t), finite even where ᾱ_t = 0 (zero terminal SNR). */
    public Tensor epsFromX0(Tensor xt, int[] t, Tensor x0) {
        return combine(perSample(t, s -> 1 / Math.sqrt(1 - schedule.alphaBar(s))), xt,
                perSample(t, s -> -Math.sqrt(schedule.alphaBar(s) / (1 - schedule.alphaBar(s)))), x0);
    }

    /** x_0 = √ᾱ_t x_t − √(1−ᾱ_t) v. */
    public Tensor x0FromV(Tensor xt, int[] t, Tensor v) {
        return combine(perSample(t, s -> Math.sqrt(schedule.alphaBar(s))), xt,
                perSample(t, s -> -Math.sqrt(1 - schedule.alphaBar(s))), v);
    }

    /** v = √ᾱ_t ε − √(1−ᾱ_t) x_0. */
    public Tensor velocity(Tensor x0, int[] t, Tensor eps) {
        return combine(perSample(t, s -> Math.sqrt(schedule.alphaBar(s))), eps,
                perSample(t, s -> -Math.sqrt(1 - schedule.alphaBar(s))), x0);
    }

    /** What the model's first C channels should equal for this parameterization: ε, x_0 or v. */
    public Tensor target(Tensor x0, int[] t, Tensor noise) {
        return switch (parameterization) {
            case EPSILON -> noise;
            case X0 -> x0;
            case V -> velocity(x0, t, noise);
        };
    }

    // ---------------------------------------------------------------- reverse process

    /** The original timesteps the model sees for steps {@code t}, as I64 [B]. */
    public Tensor modelTimesteps(int[] t) {
        long[] mapped = new long[t.length];
        for (int i = 0; i < t.length; i++) {
            mapped[i] = schedule.modelTimestep(t[i]);
        }
        return Tensor.ofLongs(Arena.ofAuto(), mapped, t.length);
    }

    /** Calls {@code model} at steps {@code t} (mapped to original timesteps) and checks its output shape. */
    public Tensor modelOutput(DenoisingModel model, Tensor xt, int[] t, Tensor conditioning) {
        check("model", xt, t);
        Tensor out = model.predict(xt, modelTimesteps(t), conditioning);
        checkOutput(xt, out);
        return out;
    }

    /** p_θ(x_{t−1} | x_t) from a call of {@code model}. */
    public Prediction pMeanVariance(DenoisingModel model, Tensor xt, int[] t, Tensor conditioning, X0Processing x0Processing) {
        return pMeanVariance(modelOutput(model, xt, t, conditioning), xt, t, x0Processing);
    }

    /**
     * p_θ(x_{t−1} | x_t) from a model output already computed: the first C channels read as
     * {@link #parameterization()} give x̂_0 (then processed), the mean is the posterior mean at
     * x̂_0, and the variance follows {@link #varianceType()}.
     *
     * @throws ShapeMismatchException naming the variance type and both channel counts if the
     *     output has the wrong number of channels
     */
    public Prediction pMeanVariance(Tensor output, Tensor xt, int[] t, X0Processing x0Processing) {
        check("pMeanVariance", xt, t);
        checkOutput(xt, output);
        int channels = xt.size(1);
        Tensor first = output.slice(1, 0, channels);
        Tensor x0 = switch (parameterization) {
            case EPSILON -> x0FromEps(xt, t, first);
            case X0 -> copy(first); // a fresh buffer: processing must not write into the model's output
            case V -> x0FromV(xt, t, first);
        };
        x0Processing.apply(x0);
        Tensor mean = combine(perSample(t, schedule::posteriorMeanCoef1), x0, perSample(t, schedule::posteriorMeanCoef2), xt);
        int[] shape = xt.shape();
        return switch (varianceType) {
            case FIXED_SMALL -> new Prediction(mean,
                    Buffers.perSample(perSample(t, schedule::posteriorVariance), shape),
                    Buffers.perSample(perSample(t, schedule::posteriorLogVarianceClipped), shape), x0, output);
            case FIXED_LARGE -> {
                double[] var = perSample(t, this::largeVariance);
                yield new Prediction(mean, Buffers.perSample(var, shape), Buffers.perSample(log(var), shape), x0, output);
            }
            case LEARNED_RANGE -> learnedRange(output.slice(1, channels, 2 * channels), t, mean, x0, output);
        };
    }

    /** β_t, with β̃_1 in place of β_0 as DiT does (β_0 is tiny and would give a log variance far below the rest). */
    private double largeVariance(int s) {
        if (s == 0) {
            return schedule.steps() > 1 ? schedule.posteriorVariance(1) : schedule.beta(0);
        }
        return schedule.beta(s);
    }

    /** log σ² = frac·log β_t + (1 − frac)·log β̃_t (clipped), frac = (v + 1)/2, per element. */
    private Prediction learnedRange(Tensor values, int[] t, Tensor mean, Tensor x0, Tensor output) {
        int[] shape = mean.shape();
        float[] v = values.toFloatArray();
        float[] logVar = new float[v.length];
        float[] var = new float[v.length];
        int per = v.length / shape[0];
        for (int b = 0; b < shape[0]; b++) {
            double minLog = schedule.posteriorLogVarianceClipped(t[b]);
            double maxLog = Math.log(schedule.beta(t[b]));
            for (int i = b * per; i < (b + 1) * per; i++) {
                double frac = (v[i] + 1.0) / 2.0;
                double lv = frac * maxLog + (1 - frac) * minLog;
                logVar[i] = (float) lv;
                var[i] = (float) Math.exp(lv);
            }
        }
        return new Prediction(mean, Buffers.of(var, shape), Buffers.of(logVar, shape), x0, output);
    }

    // ---------------------------------------------------------------- helpers

    /** out[b] = α_b·x[b] + β_b·y[b], through the backend, one sample at a time. */
    Tensor combine(double[] alpha, Tensor x, double[] beta, Tensor y) {
        Tensor out = Buffers.zeros(x.shape());
        for (int b = 0; b < alpha.length; b++) {
            ops.axpby((float) alpha[b], x.select(0, b), (float) beta[b], y.select(0, b), out.select(0, b));
        }
        return out;
    }

    private Tensor scaled(double[] alpha, Tensor x) {
        return combine(alpha, x, new double[alpha.length], x);
    }

    private static Tensor copy(Tensor t) {
        Tensor out = Buffers.zeros(t.shape());
        out.copyFrom(t);
        return out;
    }

    double[] perSample(int[] t, IntToDoubleFunction f) {
        double[] out = new double[t.length];
        for (int i = 0; i < t.length; i++) {
            out[i] = f.applyAsDouble(t[i]);
        }
        return out;
    }

    private static double[] log(double[] v) {
        double[] out = new double[v.length];
        for (int i = 0; i < v.length; i++) {
            out[i] = Math.log(v[i]);
        }
        return out;
    }

    private void check(String op, Tensor x, int[] t) {
        Buffers.checkBatch("GaussianDiffusion." + op, "x", x);
        Buffers.checkTimesteps("GaussianDiffusion." + op, t, x.size(0), schedule.steps());
    }

    private static void sameShape(String op, String what, Tensor x, Tensor other) {
        if (!x.sameShape(other)) {
            throw new ShapeMismatchException("GaussianDiffusion." + op + ": " + what + " " + Shapes.toString(other.shape())
                    + " does not match x " + Shapes.toString(x.shape()));
        }
    }

    private void checkOutput(Tensor xt, Tensor out) {
        int[] want = xt.shape();
        want[1] = varianceType.outputChannels(want[1]);
        int[] got = out.shape();
        if (got.length == want.length && got.length >= 2 && got[0] == want[0] && got[1] != want[1]) {
            throw new ShapeMismatchException("GaussianDiffusion: model output " + Shapes.toString(got) + " has " + got[1]
                    + " channels but variance type " + varianceType + " needs " + want[1] + " for "
                    + xt.size(1) + " input channels");
        }
        if (!Arrays.equals(got, want)) {
            throw new ShapeMismatchException("GaussianDiffusion: model output " + Shapes.toString(got) + " must be "
                    + Shapes.toString(want) + " for input " + Shapes.toString(xt.shape()) + " and variance type "
                    + varianceType);
        }
        Buffers.checkBatch("GaussianDiffusion", "model output", out);
    }
}
