package org.tessera.engine.diffusion;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.function.Consumer;
import java.util.function.IntToDoubleFunction;
import org.tessera.engine.backend.ElementwiseOps;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.ShapeMismatchException;
import org.tessera.engine.tensor.Shapes;
import org.tessera.engine.tensor.Tensor;

/**
 * The Gaussian diffusion process of Ho et al. (2020) over a {@link NoiseSchedule}: the forward
 * process q, its posterior, and the reverse step p_θ built from a model's output, following
 * facebookresearch/DiT's {@code gaussian_diffusion.py}.
 *
 * <p>Tensors are batches [B, C, …] of F32 with one timestep per sample ({@code int[] t} of
 * length B, indices into this schedule). Schedule coefficients are precomputed per step in
 * double, as the reference's buffers are, and rounded to float once per sample, as its
 * {@code _extract_into_tensor} does; the tensor arithmetic runs through the backend's
 * {@link ElementwiseOps}.
 *
 * <p>Two forms of each operation on the sampling path:
 * <ul>
 *   <li>{@code …Into} methods write into a caller-provided {@code out} (a contiguous F32 tensor
 *       of x's shape) and allocate no tensors. When every sample has the same timestep, as in a
 *       sampling loop, each is one backend call over the whole batch; otherwise one per sample.
 *   <li>The plain methods return new tensors freed by the garbage collector; they call the
 *       {@code …Into} forms with fresh outputs.
 * </ul>
 */
public final class GaussianDiffusion {
    private static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED;

    /** A diagonal Gaussian: mean, variance and log variance, each broadcast to the batch's shape. */
    public record Gaussian(Tensor mean, Tensor variance, Tensor logVariance) {}

    /**
     * The reverse step p_θ(x_{t−1} | x_t): its Gaussian, the model's (processed) estimate of
     * x_0, and the raw model output it came from. {@code modelOutput} is the model's own tensor
     * and, like any {@link DenoisingModel} output, may be valid only until the model's next call.
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

    // Coefficients by step, in double, named after the reference's precomputed buffers.
    private final double[] zero; // 0
    private final double[] sqrtOneMinusBeta; // √(1 − β_t)
    private final double[] sqrtAlphaBar; // √ᾱ_t
    private final double[] sqrtOneMinusAlphaBar; // √(1 − ᾱ_t)
    private final double[] negSqrtOneMinusAlphaBar; // −√(1 − ᾱ_t)
    private final double[] sqrtRecipAlphaBar; // √(1/ᾱ_t)
    private final double[] negSqrtRecipM1AlphaBar; // −√(1/ᾱ_t − 1)
    private final double[] recipSqrtOneMinusAlphaBar; // 1/√(1 − ᾱ_t)
    private final double[] negSqrtSnr; // −√(ᾱ_t / (1 − ᾱ_t))
    private final double[] posteriorMeanCoef1; // c1_t, of x_0
    private final double[] posteriorMeanCoef2; // c2_t, of x_t
    private final double[] fixedVariance; // σ²_t of the fixed variance types (unused for LEARNED_RANGE)
    private final double[] fixedLogVariance; // log σ²_t, likewise

    public GaussianDiffusion(
            NoiseSchedule schedule, Parameterization parameterization, VarianceType varianceType, ElementwiseOps ops) {
        this.schedule = schedule;
        this.parameterization = parameterization;
        this.varianceType = varianceType;
        this.ops = ops;
        zero = new double[schedule.steps()];
        sqrtOneMinusBeta = table(s -> Math.sqrt(1 - schedule.beta(s)));
        sqrtAlphaBar = table(s -> Math.sqrt(schedule.alphaBar(s)));
        sqrtOneMinusAlphaBar = table(s -> Math.sqrt(1 - schedule.alphaBar(s)));
        negSqrtOneMinusAlphaBar = table(s -> -Math.sqrt(1 - schedule.alphaBar(s)));
        sqrtRecipAlphaBar = table(s -> Math.sqrt(1 / schedule.alphaBar(s)));
        negSqrtRecipM1AlphaBar = table(s -> -Math.sqrt(1 / schedule.alphaBar(s) - 1));
        // Finite even where ᾱ_t = 0 (zero terminal SNR).
        recipSqrtOneMinusAlphaBar = table(s -> 1 / Math.sqrt(1 - schedule.alphaBar(s)));
        negSqrtSnr = table(s -> -Math.sqrt(schedule.alphaBar(s) / (1 - schedule.alphaBar(s))));
        posteriorMeanCoef1 = table(schedule::posteriorMeanCoef1);
        posteriorMeanCoef2 = table(schedule::posteriorMeanCoef2);
        fixedVariance =
                table(s -> varianceType == VarianceType.FIXED_LARGE ? largeVariance(s) : schedule.posteriorVariance(s));
        fixedLogVariance = table(s -> varianceType == VarianceType.FIXED_LARGE
                ? Math.log(largeVariance(s))
                : schedule.posteriorLogVarianceClipped(s));
    }

    private double[] table(IntToDoubleFunction f) {
        double[] out = new double[schedule.steps()];
        for (int s = 0; s < out.length; s++) {
            out[s] = f.applyAsDouble(s);
        }
        return out;
    }

    /** β_t, with β̃_1 in place of β_0 as DiT does (β_0 is tiny and would give a log variance far below the rest). */
    private double largeVariance(int s) {
        if (s == 0) {
            return schedule.steps() > 1 ? schedule.posteriorVariance(1) : schedule.beta(0);
        }
        return schedule.beta(s);
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
        check("GaussianDiffusion.qStep", xPrev, t);
        double[] var = perSample(t, schedule::beta);
        Tensor mean = Buffers.zeros(xPrev.shape());
        combine(sqrtOneMinusBeta, xPrev, zero, xPrev, t, mean);
        return new Gaussian(mean, Buffers.perSample(var, xPrev.shape()), Buffers.perSample(log(var), xPrev.shape()));
    }

    /** q(x_t | x_0) = N(√ᾱ_t x_0, (1 − ᾱ_t) I), in closed form. */
    public Gaussian qMarginal(Tensor x0, int[] t) {
        check("GaussianDiffusion.qMarginal", x0, t);
        double[] var = perSample(t, s -> 1 - schedule.alphaBar(s));
        Tensor mean = Buffers.zeros(x0.shape());
        combine(sqrtAlphaBar, x0, zero, x0, t, mean);
        return new Gaussian(mean, Buffers.perSample(var, x0.shape()), Buffers.perSample(log(var), x0.shape()));
    }

    /** A sample of q(x_t | x_0): x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε. */
    public Tensor qSample(Tensor x0, int[] t, Tensor noise) {
        return into(x0, out -> qSampleInto(x0, t, noise, out));
    }

    /** {@link #qSample} into {@code out}, which may be x0 or noise (in place). */
    public void qSampleInto(Tensor x0, int[] t, Tensor noise, Tensor out) {
        checkInto("GaussianDiffusion.qSample", x0, t, "noise", noise, out);
        combine(sqrtAlphaBar, x0, sqrtOneMinusAlphaBar, noise, t, out);
    }

    /**
     * The posterior q(x_{t−1} | x_t, x_0) = N(c1_t x_0 + c2_t x_t, β̃_t I), with the log variance
     * clipped at t = 0 as in {@link NoiseSchedule#posteriorLogVarianceClipped}.
     */
    public Gaussian qPosterior(Tensor x0, Tensor xt, int[] t) {
        Tensor mean = into(x0, out -> posteriorMeanInto(x0, xt, t, out));
        return new Gaussian(
                mean,
                Buffers.perSample(perSample(t, schedule::posteriorVariance), x0.shape()),
                Buffers.perSample(perSample(t, schedule::posteriorLogVarianceClipped), x0.shape()));
    }

    /** The posterior mean c1_t x_0 + c2_t x_t into {@code out}, which may be x0 or xt (in place). */
    public void posteriorMeanInto(Tensor x0, Tensor xt, int[] t, Tensor out) {
        checkInto("GaussianDiffusion.qPosterior", x0, t, "x_t", xt, out);
        combine(posteriorMeanCoef1, x0, posteriorMeanCoef2, xt, t, out);
    }

    // ---------------------------------------------------------------- conversions between targets

    /** x_0 = √(1/ᾱ_t) x_t − √(1/ᾱ_t − 1) ε. */
    public Tensor x0FromEps(Tensor xt, int[] t, Tensor eps) {
        return into(xt, out -> x0FromEpsInto(xt, t, eps, out));
    }

    /** {@link #x0FromEps} into {@code out}, which may be xt or eps (in place). */
    public void x0FromEpsInto(Tensor xt, int[] t, Tensor eps, Tensor out) {
        checkInto("GaussianDiffusion.x0FromEps", xt, t, "eps", eps, out);
        combine(sqrtRecipAlphaBar, xt, negSqrtRecipM1AlphaBar, eps, t, out);
    }

    /** ε = (x_t − √ᾱ_t x_0) / √(1−ᾱ_t), finite even where ᾱ_t = 0 (zero terminal SNR). */
    public Tensor epsFromX0(Tensor xt, int[] t, Tensor x0) {
        return into(xt, out -> epsFromX0Into(xt, t, x0, out));
    }

    /** {@link #epsFromX0} into {@code out}, which may be xt or x0 (in place). */
    public void epsFromX0Into(Tensor xt, int[] t, Tensor x0, Tensor out) {
        checkInto("GaussianDiffusion.epsFromX0", xt, t, "x_0", x0, out);
        combine(recipSqrtOneMinusAlphaBar, xt, negSqrtSnr, x0, t, out);
    }

    /** x_0 = √ᾱ_t x_t − √(1−ᾱ_t) v. */
    public Tensor x0FromV(Tensor xt, int[] t, Tensor v) {
        return into(xt, out -> x0FromVInto(xt, t, v, out));
    }

    /** {@link #x0FromV} into {@code out}, which may be xt or v (in place). */
    public void x0FromVInto(Tensor xt, int[] t, Tensor v, Tensor out) {
        checkInto("GaussianDiffusion.x0FromV", xt, t, "v", v, out);
        combine(sqrtAlphaBar, xt, negSqrtOneMinusAlphaBar, v, t, out);
    }

    /** v = √ᾱ_t ε − √(1−ᾱ_t) x_0. */
    public Tensor velocity(Tensor x0, int[] t, Tensor eps) {
        return into(x0, out -> velocityInto(x0, t, eps, out));
    }

    /** {@link #velocity} into {@code out}, which may be x0 or eps (in place). */
    public void velocityInto(Tensor x0, int[] t, Tensor eps, Tensor out) {
        checkInto("GaussianDiffusion.velocity", x0, t, "eps", eps, out);
        combine(sqrtAlphaBar, eps, negSqrtOneMinusAlphaBar, x0, t, out);
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
        Tensor out = Tensor.zeros(Arena.ofAuto(), DType.I64, t.length);
        modelTimestepsInto(t, out);
        return out;
    }

    /** {@link #modelTimesteps} into {@code out}, a contiguous I64 [B]. */
    public void modelTimestepsInto(int[] t, Tensor out) {
        if (out.dtype() != DType.I64 || out.rank() != 1 || out.size(0) != t.length || !out.isContiguous()) {
            throw new ShapeMismatchException("GaussianDiffusion.modelTimestepsInto: out must be a contiguous i64 ["
                    + t.length + "], got " + out.dtype().shortName() + " " + Shapes.toString(out.shape()));
        }
        Buffers.checkTimesteps("GaussianDiffusion.modelTimestepsInto", t, t.length, schedule.steps());
        for (int i = 0; i < t.length; i++) {
            out.storage().setAtIndex(I64, out.offset() + i, schedule.modelTimestep(t[i]));
        }
    }

    /** Calls {@code model} at steps {@code t} (mapped to original timesteps) and checks its output shape. */
    public Tensor modelOutput(DenoisingModel model, Tensor xt, int[] t, Tensor conditioning) {
        check("GaussianDiffusion.model", xt, t);
        return modelOutput(model, xt, t, conditioning, modelTimesteps(t));
    }

    /**
     * Like {@link #modelOutput(DenoisingModel, Tensor, int[], Tensor)}, writing the model's
     * timesteps into {@code timesteps} (a contiguous I64 [B] the caller reuses) instead of a new
     * tensor. The result is the model's tensor: see {@link DenoisingModel} for how long it is valid.
     */
    public Tensor modelOutput(DenoisingModel model, Tensor xt, int[] t, Tensor conditioning, Tensor timesteps) {
        check("GaussianDiffusion.model", xt, t);
        modelTimestepsInto(t, timesteps);
        Tensor out = model.predict(xt, timesteps, conditioning);
        checkOutput(xt, out);
        return out;
    }

    /** p_θ(x_{t−1} | x_t) from a call of {@code model}. */
    public Prediction pMeanVariance(
            DenoisingModel model, Tensor xt, int[] t, Tensor conditioning, X0Processing x0Processing) {
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
        check("GaussianDiffusion.pMeanVariance", xt, t);
        checkOutput(xt, output);
        int[] shape = xt.shape();
        Tensor x0 = Buffers.zeros(shape);
        Tensor mean = Buffers.zeros(shape);
        pMeanVarianceInto(output, xt, t, x0Processing, x0, mean, null);
        if (varianceType != VarianceType.LEARNED_RANGE) {
            return new Prediction(
                    mean,
                    Buffers.perSample(perSample(t, s -> fixedVariance[s]), shape),
                    Buffers.perSample(perSample(t, s -> fixedLogVariance[s]), shape),
                    x0,
                    output);
        }
        Tensor logVariance = Buffers.zeros(shape);
        logVarianceInto(output, xt, t, logVariance);
        Tensor variance = Buffers.zeros(shape);
        variance.copyFrom(logVariance);
        Buffers.expInPlace(variance, 1.0);
        return new Prediction(mean, variance, logVariance, x0, output);
    }

    /**
     * The destination-passing form of {@link #pMeanVariance(Tensor, Tensor, int[], X0Processing)}
     * for sampling loops: writes x̂_0 (processed) into {@code x0Out}, the posterior mean at x̂_0
     * into {@code meanOut} and the log variance, per element, into {@code logVarianceOut}. The
     * last two may be null when the caller does not need them (DDIM needs only x̂_0). Each output
     * is a contiguous F32 tensor of xt's shape, distinct from xt, from {@code output} and from the
     * other outputs. {@code output} is only read, and not kept.
     */
    public void pMeanVarianceInto(
            Tensor output,
            Tensor xt,
            int[] t,
            X0Processing x0Processing,
            Tensor x0Out,
            Tensor meanOut,
            Tensor logVarianceOut) {
        String op = "GaussianDiffusion.pMeanVarianceInto";
        check("GaussianDiffusion.pMeanVariance", xt, t);
        checkOutput(xt, output);
        Buffers.checkDestination(op, "x0Out", x0Out, xt);
        if (meanOut != null) {
            Buffers.checkDestination(op, "meanOut", meanOut, xt);
        }
        if (logVarianceOut != null) {
            Buffers.checkDestination(op, "logVarianceOut", logVarianceOut, xt);
        }
        int axis = channelAxis(xt, output);
        int channels = xt.size(axis);
        Tensor first = output.size(axis) == channels ? output : output.slice(axis, 0, channels);
        switch (parameterization) {
            case EPSILON -> combine(sqrtRecipAlphaBar, xt, negSqrtRecipM1AlphaBar, first, t, x0Out);
            case X0 -> x0Out.copyFrom(first); // our own buffer: processing must not write into the model's output
            case V -> combine(sqrtAlphaBar, xt, negSqrtOneMinusAlphaBar, first, t, x0Out);
        }
        x0Processing.apply(x0Out);
        if (meanOut != null) {
            combine(posteriorMeanCoef1, x0Out, posteriorMeanCoef2, xt, t, meanOut);
        }
        if (logVarianceOut != null) {
            logVarianceInto(output, xt, t, logVarianceOut);
        }
    }

    /**
     * σ = exp(½ log σ²) per element of {@code logVariance} into {@code out} (contiguous F32 of the
     * same shape): the reverse step's standard deviation.
     */
    public void stdInto(Tensor logVariance, Tensor out) {
        Buffers.checkDestination("GaussianDiffusion.stdInto", "out", out, logVariance);
        out.copyFrom(logVariance);
        Buffers.expInPlace(out, 0.5);
    }

    /**
     * The reverse step's log variance per element into {@code out} (a contiguous F32 tensor of
     * xt's shape): the fixed per-step value, or for {@link VarianceType#LEARNED_RANGE}
     * log σ² = frac·log β_t + (1 − frac)·log β̃_t (clipped), frac = (v + 1)/2, from the output's
     * last C channels v.
     */
    public void logVarianceInto(Tensor output, Tensor xt, int[] t, Tensor out) {
        check("GaussianDiffusion.logVariance", xt, t);
        checkOutput(xt, output);
        Buffers.checkDestination("GaussianDiffusion.logVarianceInto", "out", out, xt);
        int batch = xt.size(0);
        long per = xt.numel() / batch;
        if (varianceType != VarianceType.LEARNED_RANGE) {
            for (int b = 0; b < batch; b++) {
                Buffers.fill(out, b * per, per, (float) fixedLogVariance[t[b]]);
            }
            return;
        }
        int axis = channelAxis(xt, output);
        int channels = xt.size(axis);
        Tensor values = output.slice(axis, channels, 2 * channels);
        for (int b = 0; b < batch; b++) {
            double minLog = schedule.posteriorLogVarianceClipped(t[b]);
            double maxLog = Math.log(schedule.beta(t[b]));
            for (long i = b * per; i < (b + 1) * per; i++) {
                double frac = (values.floatAt(i) + 1.0) / 2.0;
                Buffers.set(out, i, (float) (frac * maxLog + (1 - frac) * minLog));
            }
        }
    }

    /** log σ²_t of a fixed variance type at step {@code s} (unused for {@link VarianceType#LEARNED_RANGE}). */
    double fixedLogVariance(int s) {
        return fixedLogVariance[s];
    }

    // ---------------------------------------------------------------- helpers

    /**
     * out[b] = α[t_b]·x[b] + β[t_b]·y[b] with coefficient tables indexed by step, each rounded to
     * float once. One backend call over the whole batch when every sample has the same step (a
     * sampling loop: no views, no allocation), else one call per sample.
     */
    void combine(double[] alphaByStep, Tensor x, double[] betaByStep, Tensor y, int[] t, Tensor out) {
        if (sameStep(t)) {
            ops.axpby((float) alphaByStep[t[0]], x, (float) betaByStep[t[0]], y, out);
            return;
        }
        if (x.isContiguous() && y.isContiguous() && out.isContiguous()) {
            // Steps that differ per sample (a training batch): each sample's row with its own pair,
            // in double as the reference's axpby, without a view per sample.
            long per = x.numel() / t.length;
            MemorySegment xs = x.storage();
            MemorySegment ys = y.storage();
            MemorySegment os = out.storage();
            for (int b = 0; b < t.length; b++) {
                double alpha = (float) alphaByStep[t[b]];
                double beta = (float) betaByStep[t[b]];
                for (long i = b * per; i < (b + 1) * per; i++) {
                    double v = alpha * xs.getAtIndex(ValueLayout.JAVA_FLOAT, x.offset() + i)
                            + beta * ys.getAtIndex(ValueLayout.JAVA_FLOAT, y.offset() + i);
                    os.setAtIndex(ValueLayout.JAVA_FLOAT, out.offset() + i, (float) v);
                }
            }
            return;
        }
        for (int b = 0; b < t.length; b++) {
            ops.axpby(
                    (float) alphaByStep[t[b]],
                    x.select(0, b),
                    (float) betaByStep[t[b]],
                    y.select(0, b),
                    out.select(0, b));
        }
    }

    private static boolean sameStep(int[] t) {
        for (int b = 1; b < t.length; b++) {
            if (t[b] != t[0]) {
                return false;
            }
        }
        return true;
    }

    /** A fresh output of {@code like}'s shape, filled by {@code body}. */
    private static Tensor into(Tensor like, Consumer<Tensor> body) {
        Tensor out = Buffers.zeros(like.shape());
        body.accept(out);
        return out;
    }

    private static double[] perSample(int[] t, IntToDoubleFunction f) {
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

    /** Checks that x is a batch at steps t; {@code op} is a constant, so nothing is allocated when the check passes. */
    private void check(String op, Tensor x, int[] t) {
        Buffers.checkBatch(op, "x", x);
        Buffers.checkTimesteps(op, t, x.size(0), schedule.steps());
    }

    /** Checks an {@code …Into} call: x a batch at steps t, {@code other} of x's shape, out a destination of x's shape. */
    private void checkInto(String op, Tensor x, int[] t, String what, Tensor other, Tensor out) {
        check(op, x, t);
        sameShape(op, what, x, other);
        Buffers.checkDestination(op, "out", out, x);
    }

    private static void sameShape(String op, String what, Tensor x, Tensor other) {
        if (!x.sameShape(other)) {
            throw new ShapeMismatchException(op + ": " + what + " " + Shapes.toString(other.shape())
                    + " does not match x " + Shapes.toString(x.shape()));
        }
    }

    /**
     * The axis that holds the channels of a model output with a learned variance: the one axis
     * after the batch where the output is larger than x_t (1 for images [B, 2C, H, W], 2 for
     * Latte's videos [B, F, 2C, H, W]); 1 when the shapes are equal.
     */
    static int channelAxis(Tensor xt, Tensor output) {
        for (int d = 1; d < xt.rank() && d < output.rank(); d++) {
            if (output.size(d) != xt.size(d)) {
                return d;
            }
        }
        return 1;
    }

    /** Checks the model output's shape against x_t; allocates nothing when it fits. */
    private void checkOutput(Tensor xt, Tensor out) {
        int axis = out.rank() == xt.rank() ? channelAxis(xt, out) : 1;
        int channels = varianceType.outputChannels(xt.size(axis));
        boolean fits = out.rank() == xt.rank() && out.size(0) == xt.size(0) && out.size(axis) == channels;
        for (int d = 1; fits && d < xt.rank(); d++) {
            fits = d == axis || out.size(d) == xt.size(d);
        }
        if (!fits) {
            int[] want = xt.shape();
            want[axis] = channels;
            int[] got = out.shape();
            if (got.length == want.length && got.length >= 2 && got[0] == want[0] && got[axis] != want[axis]) {
                throw new ShapeMismatchException(
                        "GaussianDiffusion: model output " + Shapes.toString(got) + " has " + got[axis]
                                + " channels but variance type " + varianceType + " needs " + want[axis] + " for "
                                + xt.size(axis) + " input channels");
            }
            throw new ShapeMismatchException("GaussianDiffusion: model output " + Shapes.toString(got) + " must be "
                    + Shapes.toString(want) + " for input " + Shapes.toString(xt.shape()) + " and variance type "
                    + varianceType);
        }
        Buffers.checkBatch("GaussianDiffusion", "model output", out);
    }
}
