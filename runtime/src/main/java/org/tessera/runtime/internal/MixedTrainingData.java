package org.tessera.runtime.internal;

import java.util.ArrayList;
import java.util.List;
import org.tessera.dsl.ModelDefinition;
import org.tessera.dsl.PipelineDefinition;
import org.tessera.dsl.pipeline.PipelineSettings;
import org.tessera.engine.random.RandomStream;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Tensor;

/**
 * {@code mix(idx(...), moving_mnist(...), ...)}: several data sets as one, for a packed model, whose
 * batches hold images [C, H, W] and clips [F, C, H, W] side by side. Each example comes from a
 * part drawn uniformly, then from that part as the part draws its own; the classes are numbered
 * on from part to part (the first part's 0..k₀, the second's k₀+1.., k the part's largest label).
 */
final class MixedTrainingData {
    /** Keys the parts' draws apart from the mix's own (any constant would do; fixed, so runs resume exactly). */
    private static final long PART_DRAWS = 0x23C6EF372FE94F82L;

    private final List<TrainingData> parts;
    private final List<int[]> shapes;
    private final List<Boolean> flips;
    private final long[] labelOffsets;
    private final int maxLabel;

    private MixedTrainingData(List<TrainingData> parts, List<int[]> shapes, List<Boolean> flips) {
        this.parts = parts;
        this.shapes = shapes;
        this.flips = flips;
        this.labelOffsets = new long[parts.size()];
        long next = 0;
        for (int i = 0; i < parts.size(); i++) {
            labelOffsets[i] = next;
            next += parts.get(i).maxLabel() + 1L;
        }
        this.maxLabel = (int) (next - 1);
    }

    /**
     * Reads each part at the packed model's size: images at [C, S, S], clips at [frames, C, S, S].
     *
     * @throws org.tessera.dsl.CompilationException at the part that cannot be read or does not fit,
     *     or at the mix when the numbered-on classes pass the model's num_classes
     */
    static MixedTrainingData read(
            PipelineDefinition def, PipelineSettings.MixedData mix, int[] image, int frames, ModelDefinition model) {
        List<TrainingData> parts = new ArrayList<>();
        List<int[]> shapes = new ArrayList<>();
        List<Boolean> flips = new ArrayList<>();
        for (PipelineSettings.Dataset d : mix.parts()) {
            int[] shape = d instanceof PipelineSettings.MovingMnistData
                    ? new int[] {frames, image[0], image[1], image[2]}
                    : image;
            parts.add(TrainingData.read(def, d, shape, model));
            shapes.add(shape);
            flips.add(d.flip());
        }
        MixedTrainingData data = new MixedTrainingData(parts, shapes, flips);
        if (model.constant("num_classes") instanceof Long n && n > 0 && data.maxLabel >= n) {
            throw def.error(
                    mix.span(),
                    "the mix numbers its classes on from part to part, 0.." + data.maxLabel + ", more than the " + n
                            + " classes of " + model.name() + ": give it num_classes = " + (data.maxLabel + 1));
        }
        return data;
    }

    /** Whether a part gives clips. */
    boolean hasClips() {
        return shapes.stream().anyMatch(s -> s.length == 4);
    }

    /** Whether a part gives images. */
    boolean hasImages() {
        return shapes.stream().anyMatch(s -> s.length == 3);
    }

    /**
     * A batch of {@code classes.length} examples drawn by {@code r}: draw i picks the part, and
     * the part's own draws for example i follow from r's stream, as its batch would take them.
     */
    List<Tensor> batch(RandomStream r, long[] classes) {
        int b = classes.length;
        if (b >= 1 << 20) {
            throw new IllegalArgumentException("a mixed batch of " + b + " examples is more than 2^20");
        }
        List<Tensor> out = new ArrayList<>(b);
        long[] one = new long[1];
        for (int i = 0; i < b; i++) {
            int p = Math.min(parts.size() - 1, (int) (r.uniform(i) * parts.size()));
            int[] shape = shapes.get(p);
            int[] batchShape = new int[shape.length + 1];
            batchShape[0] = 1;
            System.arraycopy(shape, 0, batchShape, 1, shape.length);
            Tensor x = Tensor.zeros(DType.F32, batchShape);
            // the part's draws for this example (its draws 0..3 of a batch of one): a stream of its
            // own, keyed by r's stream (the step) and the example's place, under a key apart from r's
            RandomStream own = new RandomStream(r.seed() ^ PART_DRAWS, (r.stream() << 20) | i);
            parts.get(p).batch(own, flips.get(p), x, one);
            classes[i] = one[0] + labelOffsets[p];
            out.add(x.select(0, 0));
        }
        return out;
    }
}
