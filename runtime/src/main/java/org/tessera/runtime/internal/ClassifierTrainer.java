package org.tessera.runtime.internal;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import org.tessera.dsl.ModelDefinition;
import org.tessera.dsl.ModelInput;
import org.tessera.engine.backend.Backend;
import org.tessera.engine.graph.Execution;
import org.tessera.engine.graph.GradientOps;
import org.tessera.engine.graph.GraphBuilder;
import org.tessera.engine.graph.Planner;
import org.tessera.engine.graph.Value;
import org.tessera.engine.io.WeightSource;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Tensor;
import org.tessera.engine.train.LearningRate;

/**
 * Trains an image classifier by cross-entropy: a model of one forward input [B, C, H, W] whose
 * output is logits [B, K] is trained towards the labels by the mean over the batch of
 * −log softmax(z)_y, with the optimiser, clipping and weight average every trainer shares. The
 * trained classifier judges a generator: {@code classify(stage, ...)} in a pipeline labels its
 * samples, and the share labelled with the class they were sampled for says how well the
 * generator follows its conditioning.
 *
 * <p>{@link #accuracy} measures the weights' average on held-out data, in batches of the
 * evaluation graph (the same lowering, no gradient).
 */
public final class ClassifierTrainer extends Trainer {
    /** The hyper-parameters. */
    public record Settings(
            int batch, LearningRate learningRate, double weightDecay, double clipNorm, double emaDecay, long seed) {}

    private final ModelDefinition model;
    private final WeightSource initial;
    private final Predicate<String> trainable;
    private final Backend host;
    private final String input;
    private final int[] image;
    private final int classes;
    private final Execution run;
    private final Map<String, Tensor> feed = new LinkedHashMap<>();
    private final Tensor labels;

    /**
     * @param image one example's shape, [C, H, W]
     * @param initial the starting weights (learned and fixed) by key
     * @param trainable which learned weights train (the others stay as {@code initial} has them)
     * @throws IllegalArgumentException when the model takes more than one input or its output is
     *     not logits [B, K]
     */
    public ClassifierTrainer(
            ModelDefinition model,
            int[] image,
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
        this.model = model;
        this.initial = initial;
        this.trainable = trainable;
        this.host = host;
        this.image = image.clone();
        List<ModelInput> inputs = model.inputs(Map.of("B", settings.batch()));
        if (inputs.size() != 1) {
            throw new IllegalArgumentException(
                    model.name() + ".forward takes " + inputs.size() + " inputs; a classifier takes one, the images");
        }
        this.input = inputs.get(0).name();

        GraphBuilder g = new GraphBuilder();
        Value logits = logits(g, settings.batch());
        this.classes = logits.size(1);
        Value y = g.input("labels", DType.I64, settings.batch());
        Value perExample = g.apply(new GradientOps.CrossEntropy(), List.of(logits, y));
        Value sum = g.apply(new GradientOps.SumTo(new int[] {1}), List.of(perExample));
        g.output("loss", g.mulScalar(sum, 1f / settings.batch()));
        run = compileStep(g.build(), host);
        labels = Tensor.zeros(DType.I64, settings.batch());
        feed.putAll(weights());
        feed.put("labels", labels);
    }

    /** The model on an input of {@code batch} images, checked to give logits [batch, K]. */
    private Value logits(GraphBuilder g, int batch) {
        int[] x = new int[image.length + 1];
        x[0] = batch;
        System.arraycopy(image, 0, x, 1, image.length);
        Value out = model.lowerTrainable(g, List.of(g.input(input, DType.F32, x)), initial, trainable);
        if (out.rank() != 2 || out.size(0) != batch) {
            throw new IllegalArgumentException(model.name() + " gives " + Arrays.toString(out.shape()) + " for " + batch
                    + " images; a classifier gives logits [" + batch + ", classes]");
        }
        return out;
    }

    /** The number of classes the model tells apart. */
    public int classes() {
        return classes;
    }

    /** One optimisation step on images [batch, C, H, W] with their labels; returns the loss. */
    @Override
    public double step(Tensor images, long[] classes) {
        beginStep();
        for (int i = 0; i < classes.length; i++) {
            setLong(labels, i, classes[i]);
        }
        feed.put(input, images);
        return update(run.run(feed));
    }

    /**
     * The labels the weights' average gives {@code count} examples, against their true ones; the
     * examples come from {@code fill} in batches of {@code batch} (the last one padded, its padding
     * not counted).
     *
     * @param fill puts examples {@code [from, from + batch)} (fewer at the end) into the image
     *     tensor and their labels into the array
     */
    public Agreement accuracy(int count, int batch, BatchFill fill) {
        GraphBuilder g = new GraphBuilder();
        g.output("logits", logits(g, batch));
        Execution eval = Planner.compile(g.build(), host).newExecution();
        Map<String, Tensor> in = new LinkedHashMap<>(emaWeights());
        int[] x = new int[image.length + 1];
        x[0] = batch;
        System.arraycopy(image, 0, x, 1, image.length);
        Tensor images = Tensor.zeros(DType.F32, x);
        in.put(input, images);
        long[] batchTruth = new long[batch];
        long[] truth = new long[count];
        long[] predicted = new long[count];
        for (int from = 0; from < count; from += batch) {
            int n = Math.min(batch, count - from);
            fill.fill(from, n, images, batchTruth);
            long[] p = Agreement.argmax(eval.run(in).get("logits"));
            System.arraycopy(batchTruth, 0, truth, from, n);
            System.arraycopy(p, 0, predicted, from, n);
        }
        return new Agreement(truth, predicted);
    }

    /** Supplies examples for {@link #accuracy}. */
    @FunctionalInterface
    public interface BatchFill {
        void fill(int from, int count, Tensor images, long[] labels);
    }
}
