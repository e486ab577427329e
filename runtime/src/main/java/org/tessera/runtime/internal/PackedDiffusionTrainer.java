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
import org.tessera.engine.graph.Execution;
import org.tessera.engine.graph.GradientOps;
import org.tessera.engine.graph.GraphBuilder;
import org.tessera.engine.graph.Value;
import org.tessera.engine.io.WeightSource;
import org.tessera.engine.packing.PackPlan;
import org.tessera.engine.packing.Patches;
import org.tessera.engine.packing.TokenDropping;
import org.tessera.engine.random.RandomStream;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Tensor;

/**
 * Trains a packed model (Patch n' Pack) with L_simple on examples of several sizes. Each step
 * places every example of the batch at a size drawn from {@code sizes} — centred on a canvas of
 * that size, padded with −1 (the background of data in [−1, 1]) or cropped — packs their patches
 * into rows of {@code rowLength} tokens, first fit decreasing, and noises each at its own
 * timestep: x_t = √ᾱ_t·x₀ + √(1−ᾱ_t)·ε per token, t its example's.
 *
 * <p>Images and clips train together. From data of clips [B, F, C, H, W], a size [f, h, w] takes
 * f of the F frames at the stride ⌊F/f⌋ (uniform frame sampling: a shorter clip of the same
 * motion, faster), and a size [h, w] takes one frame, drawn, as an image: a one-frame video. Each
 * frame is placed as an image is. A clip's tokens are its frames' patches, their positions
 * (t, y, x) within it, so the model's positions must tell frames apart (rotary ones with a time
 * section). Similarity dropping leaves out a clip's patches that repeat the patch last kept at
 * their place, in the clean data (the noise is packed by the same plan, so the loss skips them too). A batch may hold
 * images and clips side by side ({@link #step(List, long[])}, from a mix of data sets): an image
 * draws among the [h, w] sizes only.
 *
 * <p>The loss weighs each token's squared errors by 1/(E·n_e·D) (E examples, n_e tokens of its
 * example in the rows, D values a token predicts) and padding by 0, so that it is the mean over
 * examples of each one's mean squared error: DiT's L_simple, however the examples are packed.
 * With a drop rate, each patch is left out of the rows at random (NaViT's token dropping, a
 * training speed-up: shorter sequences, more examples per row); the loss covers the kept ones.
 *
 * <p>Draws: timesteps and label dropout as {@link DiffusionTrainer}'s, and the noise of the
 * examples in order from one stream, so that a batch of one square size trains exactly as
 * {@link DiffusionTrainer} trains DiT on it (tested); the sizes come from a third stream.
 *
 * <p>The rows a batch fills vary with its mix, and each row count needs its own differentiated
 * graph, whose planned buffers hold a step's activations (hundreds of MB at batch 32). So the
 * rows are rounded up to a multiple of ⌈batch/8⌉ with empty rows (segments −1, weight 0: they
 * reach no example and no gradient), and only the last {@value #GRAPHS} graphs are kept: a
 * graph per row count ran out of memory after ~100 steps of samples/fashion-packed-train.tess.
 * Packing allocates per step, unlike the unpacked trainer.
 */
public final class PackedDiffusionTrainer extends Trainer {
    private final ModelDefinition model;
    private final ModelContract contract;
    private final ModelContract.Packing packing;
    private final GaussianDiffusion diffusion;
    private final DiffusionTrainer.Settings settings;
    private final List<int[]> sizes;
    /** The sizes an image can take: the [H, W] ones. */
    private final List<int[]> imageSizes;

    private final int rowLength;
    /** Which patches a step leaves out: none, at random (re-keyed per step) or by similarity. */
    private final TokenDropping drop;

    private final int channels;
    private final int positionWidth;
    private final WeightSource initial;
    private final Predicate<String> trainable;
    private final Backend host;
    private final long nullLabel;
    /** Compiled step graphs kept at once (see the class comment). */
    private static final int GRAPHS = 3;

    private final int rowQuantum;
    /** Step graphs by row count, least recently used first; an evicted one frees its buffers. */
    private final Map<Integer, Execution> byRows = new LinkedHashMap<>(8, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<Integer, Execution> eldest) {
            if (size() <= GRAPHS) {
                return false;
            }
            eldest.getValue().close();
            return true;
        }
    };

    private final int[] t;
    private final long[] labels;

    /**
     * @param sizes the sizes an example may be placed at, [H, W] or [F, H, W] (from data of clips),
     *     drawn uniformly per example
     * @param rowLength tokens per packed row (0: the largest size's)
     * @param drop the patches left out of the rows (and of the loss): {@link TokenDropping#NONE},
     *     {@link TokenDropping.Random} (its rate; the seed is the run's, drawn anew each step) or
     *     {@link TokenDropping.Similar} (for clips)
     */
    public PackedDiffusionTrainer(
            ModelDefinition model,
            int channels,
            List<int[]> sizes,
            int rowLength,
            TokenDropping drop,
            GaussianDiffusion diffusion,
            WeightSource initial,
            Predicate<String> trainable,
            Backend host,
            DiffusionTrainer.Settings settings) {
        super(
                model,
                initial,
                trainable,
                new Optimizer(
                        settings.learningRate(), settings.weightDecay(), settings.clipNorm(), settings.emaDecay()),
                settings.seed());
        this.model = model;
        this.contract = model.contract();
        this.packing = contract.packing();
        this.diffusion = diffusion;
        this.settings = settings;
        this.sizes = List.copyOf(sizes);
        this.imageSizes = sizes.stream().filter(s -> s.length == 2).toList();
        this.drop = drop;
        this.channels = channels;
        this.initial = initial;
        this.trainable = trainable;
        this.host = host;
        this.nullLabel = contract.nullLabel() == null ? -1 : contract.nullLabel();
        int p = packing.patch();
        long longest = 0;
        boolean clips = false;
        for (int[] size : sizes) {
            int frames = size.length == 3 ? size[0] : 1;
            int[] s = size.length == 3 ? new int[] {size[1], size[2]} : size;
            if (size.length < 2 || size.length > 3 || frames < 1 || s[0] % p != 0 || s[1] % p != 0) {
                throw new IllegalArgumentException("a training size is [H, W] or [F, H, W] of whole " + p + "×" + p
                        + " patches, got " + java.util.Arrays.toString(size));
            }
            clips |= size.length == 3;
            if (size.length == 3 && !PackedBatch.placesFrames(packing)) {
                throw new IllegalArgumentException(
                        "a training size of " + frames + " frames is a clip, " + PackedBatch.FRAMES_UNPLACED);
            }
            longest = Math.max(longest, (long) frames * (s[0] / p) * (s[1] / p));
            if (packing.positions() instanceof ModelContract.Positions.Learned l
                    && !l.fractional()
                    && Math.max(s[0], s[1]) / p > l.table()) {
                throw new IllegalArgumentException("a training size of " + s[0] + "×" + s[1] + " is " + s[0] / p + "×"
                        + s[1] / p + " patches, past the " + l.table() + " rows of " + model.name()
                        + "'s position tables (fractional positions fit any size)");
            }
        }
        if (drop instanceof TokenDropping.Similar && !clips) {
            throw new IllegalArgumentException("similar(threshold) leaves out a clip's patches that repeat the frame"
                    + " before; no training size is a clip [F, H, W], and images have no frame before:"
                    + " drop = random(rate) thins them");
        }
        if (longest > 1 << 20) {
            throw new IllegalArgumentException("an example of " + longest + " tokens is more than a row holds (2^20)");
        }
        this.rowLength = rowLength > 0 ? rowLength : (int) longest;
        if (longest > this.rowLength) {
            throw new IllegalArgumentException(
                    "an example of " + longest + " tokens does not fit rows of pack = " + this.rowLength);
        }
        int width = 0;
        for (ModelInput in : model.inputs(Map.of())) {
            if (packing.positions() instanceof ModelContract.Positions.SinCos sc
                    && in.name().equals(sc.input())) {
                width = in.shape()[in.shape().length - 1];
            }
        }
        this.positionWidth = width;
        this.rowQuantum = Math.ceilDiv(settings.batch(), 8);
        this.t = new int[settings.batch()];
        this.labels = new long[settings.batch()];
    }

    /** What a step packs; its graphs are compiled later, one per row count. */
    @Override
    String planSummary() {
        List<String> shown = new ArrayList<>();
        for (int[] s : sizes) {
            shown.add(s.length == 3 ? s[0] + "×" + s[1] + "×" + s[2] : s[0] + "×" + s[1]);
        }
        return "a step packs " + settings.batch() + " examples, each at one of " + String.join(", ", shown)
                + ", into rows of " + rowLength + " tokens"
                + switch (drop) {
                    case TokenDropping.None n -> "";
                    case TokenDropping.Random r -> ", each patch left out at random with probability " + r.rate();
                    case TokenDropping.Similar m ->
                        (m.share() < 1 ? ", in a share of " + m.share() + " of the clips," : ", each clip's")
                                + " patches left out where their cosine similarity to the patch last kept at"
                                + " their place exceeds " + m.threshold();
                }
                + "; a graph is compiled for each multiple of " + rowQuantum + " rows as it first occurs";
    }

    /**
     * One optimisation step on examples {@code x0} — images [batch, C, H, W] or clips [batch, F,
     * C, H, W] — with class labels; returns the loss.
     */
    @Override
    public double step(Tensor x0, long[] classes) {
        List<Tensor> examples = new ArrayList<>();
        for (int i = 0; i < x0.size(0); i++) {
            examples.add(x0.select(0, i));
        }
        return step(examples, classes);
    }

    /**
     * One optimisation step on {@code examples}, each an image [C, H, W] or a clip [F, C, H, W] of
     * its own size (a {@code mix(...)} of data sets); returns the loss. An image is placed at one of
     * the [H, W] sizes; a clip at any size, as a clip or as one of its frames.
     */
    public double step(List<Tensor> examples, long[] classes) {
        long step = beginStep();
        int b = settings.batch();
        if (examples.size() != b) {
            throw new IllegalArgumentException(examples.size() + " examples for a batch of " + b);
        }
        int levels = diffusion.steps();
        RandomStream draws = new RandomStream(settings.seed(), 3 * step);
        for (int i = 0; i < b; i++) {
            t[i] = Math.min(levels - 1, (int) (draws.uniform(i) * levels));
            boolean drop = nullLabel >= 0 && draws.uniform(b + i) < settings.labelDropout();
            labels[i] = drop ? nullLabel : classes[i];
        }
        RandomStream sizeDraws = new RandomStream(settings.seed(), 3 * step + 2);
        List<Tensor> placedExamples = new ArrayList<>();
        List<int[]> shapes = new ArrayList<>();
        for (int i = 0; i < b; i++) {
            Tensor example = examples.get(i);
            List<int[]> fits = example.rank() == 4 ? sizes : imageSizes;
            if (fits.isEmpty()) {
                throw new IllegalArgumentException(
                        "example " + i + " is an image " + java.util.Arrays.toString(example.shape())
                                + ", and every training size is a clip [F, H, W]: give an [H, W] size too");
            }
            int[] s = fits.get(Math.min(fits.size() - 1, (int) (sizeDraws.uniform(i) * fits.size())));
            if (example.rank() == 4 && s.length == 2) { // an image from a clip: one of its frames, drawn
                example = example.select(
                        0, Math.min(example.size(0) - 1, (int) (sizeDraws.uniform(b + i) * example.size(0))));
            }
            Tensor placed = s.length == 3 ? placeClip(example, s[0], s[1], s[2]) : place(example, s[0], s[1]);
            placedExamples.add(placed);
            shapes.add(placed.shape());
        }
        examples = placedExamples;
        List<Tensor> noise =
                PackedBatch.exampleNoise(shapes, new RandomStream(settings.seed(), 3 * step + 1), host.pool());
        int p = packing.patch();
        PackPlan plan = Patches.plan(examples, 1, p, rowLength, dropping(step));
        int bucket = Math.ceilDiv(plan.rows(), rowQuantum) * rowQuantum; // empty rows at the end (class comment)
        plan = new PackPlan(plan.rowLength(), bucket, plan.placements());
        Patches.Packed data = Patches.pack(examples, 1, p, plan);
        Patches.Packed eps = Patches.pack(noise, 1, p, plan); // each noise patch beside its data's
        int rows = plan.rows();
        int pp = p * p;
        int dim = channels * pp;
        float[] x = data.tokens().toFloatArray();
        float[] e = eps.tokens().toFloatArray();
        float[] xt = new float[x.length];
        float[] target = new float[x.length];
        float[] weight = new float[rows * rowLength];
        for (int ex = 0; ex < b; ex++) {
            PackPlan.Placement pl = plan.placements().get(ex);
            double alphaBar = diffusion.schedule().alphaBar(t[ex]);
            float a = (float) Math.sqrt(alphaBar);
            float s = (float) Math.sqrt(1 - alphaBar);
            double snr = settings.snrGamma() > 0
                    ? DiffusionTrainer.minSnrWeight(alphaBar, settings.snrGamma(), diffusion.parameterization())
                    : 1;
            float w = (float) (snr / ((double) b * pl.tokens() * dim));
            int token = pl.row() * rowLength + pl.offset();
            for (int k = 0; k < pl.tokens(); k++, token++) {
                weight[token] = w;
                int base = token * dim;
                for (int c = 0; c < channels; c++) {
                    for (int q = 0; q < pp; q++) {
                        int in = base + c * pp + q; // a patch in (c, y, x) order, as the model embeds it
                        int out = base + q * channels + c; // the output in DiT's (p q c) order
                        xt[in] = a * x[in] + s * e[in];
                        target[out] = switch (diffusion.parameterization()) {
                            case EPSILON -> e[in];
                            case X0 -> x[in];
                            case V -> a * e[in] - s * x[in];
                        };
                    }
                }
            }
        }
        Map<String, Tensor> feed = new LinkedHashMap<>(weights());
        feed.putAll(PackedBatch.inputs(packing, data, b, 1, positionWidth));
        feed.put(contract.latent(), Tensor.of(xt, rows, rowLength, dim));
        Tensor timesteps = Tensor.zeros(DType.I64, b);
        diffusion.modelTimestepsInto(t, timesteps);
        feed.put(contract.timestep(), timesteps);
        if (contract.label() != null) {
            feed.put(contract.label(), Tensor.ofLongs(java.lang.foreign.Arena.ofAuto(), labels.clone(), b));
        }
        feed.put("target", Tensor.of(target, rows, rowLength, pp, channels));
        feed.put("weight", Tensor.of(weight, rows, rowLength, 1, 1));
        return update(byRows.computeIfAbsent(rows, r -> compile(r, feed)).run(feed));
    }

    /**
     * The patches step {@code step} leaves out. Random dropping draws from a key of its own per
     * step (the seed plus the step times 2⁶⁴/φ, a Weyl sequence, so that no two steps of one run,
     * nor nearby seeds' first steps, share a key), stream e for example e; similarity dropping
     * depends on the data alone, and which clips it thins, when it thins a share of them, on a key
     * drawn the same way.
     */
    private TokenDropping dropping(long step) {
        long key = settings.seed() + step * 0x9E3779B97F4A7C15L;
        return switch (drop) {
            case TokenDropping.Random r -> new TokenDropping.Random(r.rate(), key);
            case TokenDropping.Similar s when s.share() < 1 -> new TokenDropping.Similar(s.threshold(), s.share(), key);
            default -> drop;
        };
    }

    /**
     * {@code frames} of {@code clip} [F, C, H0, W0] at the stride ⌊F/frames⌋ from the first, each
     * {@linkplain #place placed} on h×w: the example [C, frames, h, w] that packing takes.
     *
     * @throws IllegalArgumentException when the clip has fewer frames
     */
    static Tensor placeClip(Tensor clip, int frames, int h, int w) {
        if (clip.rank() != 4) {
            throw new IllegalArgumentException("a training size of " + frames + " frames takes clips; the data are"
                    + " images " + java.util.Arrays.toString(clip.shape()) + " (sizes [H, W] place images)");
        }
        int available = clip.size(0);
        if (frames > available) {
            throw new IllegalArgumentException(
                    "a training size of " + frames + " frames, but the data's clips have " + available);
        }
        int stride = available / frames;
        int c = clip.size(1);
        float[] out = new float[c * frames * h * w];
        for (int f = 0; f < frames; f++) {
            float[] frame = place(clip.select(0, f * stride), h, w).toFloatArray();
            for (int ch = 0; ch < c; ch++) { // [C, H, W] into [C, F, H, W]
                System.arraycopy(frame, ch * h * w, out, (ch * frames + f) * h * w, h * w);
            }
        }
        return Tensor.of(out, c, frames, h, w);
    }

    /**
     * {@code image} [C, H0, W0] centred on an [C, h, w] canvas of −1: padded where the canvas is
     * larger, cropped where it is smaller.
     */
    static Tensor place(Tensor image, int h, int w) {
        int c = image.size(0);
        int h0 = image.size(1);
        int w0 = image.size(2);
        float[] src = image.contiguous().toFloatArray();
        float[] out = new float[c * h * w];
        java.util.Arrays.fill(out, -1f);
        int dy = (h - h0) / 2; // where the image's row 0 lands (negative: cropped)
        int dx = (w - w0) / 2;
        for (int ch = 0; ch < c; ch++) {
            for (int y = Math.max(0, dy); y < Math.min(h, h0 + dy); y++) {
                int from = Math.max(0, dx);
                int to = Math.min(w, w0 + dx);
                System.arraycopy(src, (ch * h0 + y - dy) * w0 + from - dx, out, (ch * h + y) * w + from, to - from);
            }
        }
        return Tensor.of(out, c, h, w);
    }

    /** The step's graph for {@code rows} rows, its inputs shaped as {@code feed}'s. */
    private Execution compile(int rows, Map<String, Tensor> feed) {
        GraphBuilder g = new GraphBuilder();
        List<Value> inputs = new ArrayList<>();
        for (ModelInput in : model.inputs(Map.of())) {
            Tensor v = feed.get(in.name());
            inputs.add(g.input(in.name(), v.dtype(), v.shape()));
        }
        Value out = model.lowerTrainable(g, inputs, initial, trainable); // [R, L, p·p·C'] in (p q c) order
        int pp = packing.patch() * packing.patch();
        int predicted = out.size(2) / pp;
        Value perChannel = g.reshape(out, rows, rowLength, pp, predicted);
        Value prediction = predicted == channels ? perChannel : g.slice(perChannel, 3, 0, channels);
        Value d = g.sub(prediction, g.input("target", DType.F32, rows, rowLength, pp, channels));
        Value weighted = g.mul(g.mul(d, d), g.input("weight", DType.F32, rows, rowLength, 1, 1));
        g.output("loss", g.apply(new GradientOps.SumTo(new int[] {1}), List.of(weighted)));
        return compileStep(g.build(), host);
    }
}
