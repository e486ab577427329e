package org.tessera.runtime.internal;

import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SequencedMap;
import java.util.function.Predicate;
import org.tessera.dsl.ModelDefinition;
import org.tessera.engine.backend.Backend;
import org.tessera.engine.graph.Autodiff;
import org.tessera.engine.graph.CompiledGraph;
import org.tessera.engine.graph.Execution;
import org.tessera.engine.graph.Graph;
import org.tessera.engine.graph.Planner;
import org.tessera.engine.io.SafetensorsReader;
import org.tessera.engine.io.SafetensorsWriter;
import org.tessera.engine.io.WeightSource;
import org.tessera.engine.io.WeightsFormatException;
import org.tessera.engine.tensor.ByteSizes;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Tensor;
import org.tessera.engine.train.AdamW;
import org.tessera.engine.train.Ema;
import org.tessera.engine.train.GradientClipping;
import org.tessera.engine.train.LearningRate;

/**
 * What every training run carries from step to step, whatever its loss: the trainable weights,
 * AdamW's moments, the weights' moving average and the step count; one update from a run of the
 * differentiated graph; and the checkpoint from which a later process continues exactly.
 *
 * <p>A subclass builds the graph of its loss, with each trainable weight a graph input of its
 * checkpoint key ({@link ModelDefinition#lowerTrainable}) and an output {@code loss}, and feeds
 * {@link #params()} to it each step.
 */
abstract sealed class Trainer permits DiffusionTrainer, PackedDiffusionTrainer, ClassifierTrainer {
    /** What a checkpoint's metadata says it is. */
    static final String FORMAT = "tessera-training-checkpoint/1";

    /** The optimiser's hyper-parameters. */
    record Optimizer(LearningRate learningRate, double weightDecay, double clipNorm, double emaDecay) {}

    private final Optimizer optimizer;
    private final long seed;
    private final Map<String, int[]> learned = new LinkedHashMap<>();
    private final Map<String, Tensor> params = new LinkedHashMap<>();
    private final Map<String, Tensor> grads = new LinkedHashMap<>();
    /** The trained weights' names and their gradients' output names, in order: a step builds no strings. */
    private final String[] names;

    private final String[] gradOutputs;

    /** This step's gradients in {@link #names}' order, for clipping. */
    private final List<Tensor> gradList;

    private final AdamW adam;
    private final Ema ema;
    private long step;
    private String plan = "";

    /**
     * @param initial the starting weights (learned and fixed) by key
     * @param trainable which learned weights train (the others stay as {@code initial} has them)
     * @param seed the run's seed, recorded in checkpoints: a resumed run must draw as this one does
     */
    Trainer(ModelDefinition model, WeightSource initial, Predicate<String> trainable, Optimizer optimizer, long seed) {
        this.optimizer = optimizer;
        this.seed = seed;
        model.learnedWeightShapes().forEach((k, shape) -> {
            if (trainable.test(k)) {
                learned.put(k, shape);
            }
        });
        if (learned.isEmpty()) {
            throw new IllegalArgumentException(model.name() + ": every weight is frozen; nothing would train");
        }
        for (Map.Entry<String, int[]> e : learned.entrySet()) {
            Tensor p = Tensor.zeros(DType.F32, e.getValue());
            p.copyFrom(initial.tensor(e.getKey(), e.getValue()));
            params.put(e.getKey(), p);
        }
        names = params.keySet().toArray(String[]::new);
        gradOutputs = new String[names.length];
        for (int i = 0; i < names.length; i++) {
            gradOutputs[i] = Autodiff.GRAD + names[i];
        }
        gradList = new ArrayList<>(Collections.nCopies(names.length, (Tensor) null));
        adam = AdamW.withWeightDecay(optimizer.weightDecay());
        ema = new Ema(optimizer.emaDecay(), params);
    }

    /**
     * One optimisation step on a batch of examples [batch, C, H, W] with their class labels;
     * returns the loss.
     */
    public abstract double step(Tensor examples, long[] classes);

    /** The trainable weights' keys and shapes: the graph inputs a loss is differentiated by. */
    final Map<String, int[]> learned() {
        return learned;
    }

    /** Starts a step; returns its number (1 for the first), which keys every random draw of it. */
    final long beginStep() {
        return ++step;
    }

    /**
     * The step's graph: {@code forward} (whose output "loss" is the step's loss) differentiated
     * with respect to the trained weights, cheap activations recomputed in the backward pass, and
     * compiled for {@code host}.
     */
    final Execution compileStep(Graph forward, Backend host) {
        List<String> log = new ArrayList<>();
        CompiledGraph compiled = Planner.compile(
                Autodiff.differentiate(forward, "loss", learned.keySet(), Autodiff.Activations.RECOMPUTE_CHEAP, log),
                host);
        plan = "a step plans " + ByteSizes.format(compiled.bufferBytes()) + " of buffers; " + String.join("; ", log);
        return compiled.newExecution();
    }

    /** How the step's memory is planned, one line for people (empty before {@link #compileStep}). */
    String planSummary() {
        return plan;
    }

    /**
     * The end of a step: takes the loss and the gradients from a run of the differentiated graph,
     * clips the gradients to their global norm, moves the weights by AdamW and the average after
     * them.
     *
     * @return the loss
     * @throws IllegalStateException when the loss is not finite (the weights are left as they were)
     */
    final double update(Map<String, Tensor> run) {
        double loss = run.get("loss").floatAt(0);
        if (!Double.isFinite(loss)) {
            throw new IllegalStateException("step " + step + ": the loss is " + loss);
        }
        for (int i = 0; i < names.length; i++) {
            Tensor g = run.get(gradOutputs[i]);
            grads.put(names[i], g);
            gradList.set(i, g);
        }
        GradientClipping.clipGlobalNorm(gradList, optimizer.clipNorm());
        adam.step(params, grads, step, optimizer.learningRate().at(step));
        ema.update(params);
        return loss;
    }

    /**
     * Writes everything a resumed run needs to continue exactly as this one would: the weights,
     * their average, AdamW's moments and the step (the data position and every random draw follow
     * from the step and the seed), with the caller's {@code extra} metadata (a loss history). One
     * safetensors file, written atomically.
     */
    public final void save(Path file, Map<String, String> extra) throws IOException {
        SequencedMap<String, Tensor> tensors = new LinkedHashMap<>();
        params.forEach((k, v) -> tensors.put("model." + k, v));
        ema.weights().forEach((k, v) -> tensors.put("ema." + k, v));
        adam.moments().forEach((k, mv) -> {
            tensors.put("adam.m." + k, mv[0]);
            tensors.put("adam.v." + k, mv[1]);
        });
        Map<String, String> metadata = new LinkedHashMap<>(extra);
        metadata.put("format", FORMAT);
        metadata.put("step", Long.toString(step));
        metadata.put("seed", Long.toString(seed));
        SafetensorsWriter.write(file, tensors, metadata);
    }

    /**
     * Continues from a checkpoint {@link #save} wrote for this model and settings; returns its
     * metadata (the caller's extra entries included).
     *
     * @throws IOException naming the file, and the tensor when one is missing or misshapen
     */
    public final Map<String, String> restore(Path file) throws IOException {
        try (SafetensorsReader r = SafetensorsReader.open(file)) {
            if (!FORMAT.equals(r.metadata().get("format"))) {
                throw new IOException(file + " is not a Tessera training checkpoint (metadata format "
                        + r.metadata().get("format") + ", expected " + FORMAT + ")");
            }
            if (!Long.toString(seed).equals(r.metadata().get("seed"))) {
                throw new IOException(file + " was written by a run with seed "
                        + r.metadata().get("seed") + ", not " + seed + ": its continuation would not be the same run");
            }
            for (String k : params.keySet()) {
                load(r, "model." + k, params.get(k));
                load(r, "ema." + k, ema.weights().get(k));
                Tensor[] mv = adam.moments(k, params.get(k));
                load(r, "adam.m." + k, mv[0]);
                load(r, "adam.v." + k, mv[1]);
            }
            step = Long.parseLong(r.metadata().getOrDefault("step", "0"));
            return r.metadata();
        } catch (WeightsFormatException | NumberFormatException e) {
            throw new IOException(file + ": " + e.getMessage(), e);
        }
    }

    private static void load(SafetensorsReader r, String key, Tensor into) throws IOException {
        if (!r.contains(key) || !Arrays.equals(r.shape(key), into.shape())) {
            throw new IOException(r.path() + ": tensor '" + key + "' is "
                    + (r.contains(key) ? Arrays.toString(r.shape(key)) : "missing") + ", expected "
                    + Arrays.toString(into.shape()));
        }
        into.copyFrom(r.tensor(key));
    }

    static void setLong(Tensor t, int i, long v) {
        t.storage().set(ValueLayout.JAVA_LONG_UNALIGNED, t.byteOffset() + 8L * i, v);
    }

    /** The current weights by key (live). */
    public final Map<String, Tensor> weights() {
        return params;
    }

    /** The moving average of the weights by key (live): what a run ships. */
    public final Map<String, Tensor> emaWeights() {
        return ema.weights();
    }

    /** Steps taken. */
    public final long steps() {
        return step;
    }
}
