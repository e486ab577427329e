package org.tessera.runtime.internal;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.tessera.dsl.ModelDefinition;
import org.tessera.dsl.PipelineDefinition;
import org.tessera.dsl.diag.Span;
import org.tessera.dsl.pipeline.PipelineSettings;
import org.tessera.engine.io.IdxReader;
import org.tessera.engine.io.ImageFolder;
import org.tessera.engine.io.MovingMnist;
import org.tessera.engine.random.RandomStream;
import org.tessera.engine.tensor.Tensor;

/**
 * A training set in memory, as 8-bit images and labels, and how its examples become rows of a
 * batch in [−1, 1]: IDX files (MNIST's format) padded to the model's size, or a folder of images
 * scaled to cover it and cropped.
 */
sealed interface TrainingData {
    /** The number of examples. */
    int count();

    /** The largest label. */
    int maxLabel();

    /**
     * Example e as row {@code row} of {@code out} [B, C, H, W], mirrored left to right or not;
     * where the example is larger than H × W, the crop starts at the fraction u (down) and v
     * (across) of the room there is; returns its label.
     */
    long put(int e, int row, boolean mirror, float u, float v, Tensor out);

    /**
     * Fills x0 and the classes with examples drawn by {@code r}, writing into x0 itself: a step
     * allocates no batch. Draw i picks example i, draw B + i its mirroring, 2B + i and 3B + i its
     * crop (where the data crops at random).
     */
    default void batch(RandomStream r, boolean flip, Tensor x0, long[] classes) {
        int b = classes.length;
        int n = count();
        for (int i = 0; i < b; i++) {
            int e = Math.min(n - 1, (int) (r.uniform(i) * n));
            boolean mirror = flip && r.uniform(b + i) < 0.5f;
            classes[i] = randomCrops()
                    ? put(e, i, mirror, r.uniform(2 * b + i), r.uniform(3 * b + i), x0)
                    : put(e, i, mirror, 0.5f, 0.5f, x0);
        }
    }

    /** Whether {@link #batch} crops at random places (else at the centre). */
    default boolean randomCrops() {
        return false;
    }

    /**
     * Examples {@code [from, from + n)} in order, unflipped and centred, into the first n rows of
     * {@code images}; the rows after them repeat the last (padding a final short batch).
     */
    default void examples(int from, int n, Tensor images, long[] classes) {
        for (int i = 0; i < classes.length; i++) {
            classes[i] = put(from + Math.min(i, n - 1), i, false, 0.5f, 0.5f, images);
        }
    }

    /**
     * Reads {@code d} for a model whose examples are {@code shape} [C, H, W].
     *
     * @throws org.tessera.dsl.CompilationException at the data's place when it cannot be read, does
     *     not fit the model, or has a label outside the model's {@code num_classes}
     */
    static TrainingData read(PipelineDefinition def, PipelineSettings.Dataset d, int[] shape, ModelDefinition model) {
        TrainingData data = switch (d) {
            case PipelineSettings.IdxData idx -> Idx.read(def, idx, shape, model);
            case PipelineSettings.ImageFolderData f -> Folder.read(def, f, shape);
            case PipelineSettings.MovingMnistData m -> Moving.read(def, m, shape);
            case PipelineSettings.MixedData m ->
                throw def.error(m.span(), "mix(...) is a packed model's training data, not a test set's");
        };
        Object classes = model.constant("num_classes");
        if (classes instanceof Long n && n > 0 && data.maxLabel() >= n) {
            throw def.error(
                    d.span(),
                    "label " + data.maxLabel() + " is outside 0.." + (n - 1) + " of " + model.name()
                            + (data instanceof Folder f ? " (its classes: " + String.join(", ", f.classes) + ")" : ""));
        }
        return data;
    }

    /** IDX images [N, H, W] and labels [N], padded by {@code pad} on each side with the background, −1. */
    record Idx(byte[] pixels, byte[] labels, int count, int height, int width, int pad) implements TrainingData {
        static Idx read(PipelineDefinition def, PipelineSettings.IdxData d, int[] shape, ModelDefinition model) {
            LabelledImages read = LabelledImages.read(def, d.images(), d.labels(), d.span(), "data");
            IdxReader.Idx images = read.images();
            IdxReader.Idx labels = read.labels();
            int[] s = images.shape();
            int[] wanted = {1, s[1] + 2 * d.pad(), s[2] + 2 * d.pad()};
            if (!Arrays.equals(wanted, shape)) {
                throw def.error(
                        d.span(),
                        "the images are " + Arrays.toString(wanted) + " (grey, padded by " + d.pad() + "), but "
                                + model.name() + " takes " + Arrays.toString(shape));
            }
            return new Idx(images.data(), labels.data(), s[0], s[1], s[2], d.pad());
        }

        public int maxLabel() {
            return LabelledImages.maxLabel(labels);
        }

        public long put(int e, int row, boolean mirror, float u, float v, Tensor out) {
            int h = height + 2 * pad;
            int w = width + 2 * pad;
            MemorySegment seg = out.storage();
            long base = out.byteOffset() + 4L * row * h * w;
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    int sy = y - pad;
                    int sx = x - pad;
                    float value = -1f; // the padding is black, as the images' background
                    if (sy >= 0 && sy < height && sx >= 0 && sx < width) {
                        int p = pixels[(e * height + sy) * width + (mirror ? width - 1 - sx : sx)] & 0xff;
                        value = p / 127.5f - 1f;
                    }
                    seg.set(ValueLayout.JAVA_FLOAT_UNALIGNED, base + 4L * (y * w + x), value);
                }
            }
            return labels[e] & 0xff;
        }
    }

    /** A folder's pictures, each at least H × W, cropped to H × W. */
    record Folder(List<ImageFolder.Picture> pictures, int[] labels, List<String> classes, int[] shape, boolean random)
            implements TrainingData {
        static Folder read(PipelineDefinition def, PipelineSettings.ImageFolderData d, int[] shape) {
            if (shape.length != 3 || (shape[0] != 1 && shape[0] != 3)) {
                throw def.error(
                        d.span(),
                        "images(...) gives grey or RGB images [1 or 3, H, W]; the model takes "
                                + Arrays.toString(shape));
            }
            ImageFolder.Loaded loaded;
            try {
                loaded = ImageFolder.read(d.folder(), shape[0], shape[1], shape[2]);
            } catch (IOException e) {
                throw def.error(d.span(), "cannot read the images: " + e.getMessage());
            }
            return new Folder(loaded.pictures(), loaded.labels(), loaded.classes(), shape.clone(), d.randomCrop());
        }

        public int count() {
            return pictures.size();
        }

        public int maxLabel() {
            return Arrays.stream(labels).max().orElse(0);
        }

        @Override
        public boolean randomCrops() {
            return random;
        }

        public long put(int e, int row, boolean mirror, float u, float v, Tensor out) {
            ImageFolder.Picture p = pictures.get(e);
            int c = shape[0];
            int h = shape[1];
            int w = shape[2];
            int top = Math.min(p.height() - h, (int) (u * (p.height() - h + 1)));
            int left = Math.min(p.width() - w, (int) (v * (p.width() - w + 1)));
            MemorySegment seg = out.storage();
            long base = out.byteOffset() + 4L * row * c * h * w;
            for (int ch = 0; ch < c; ch++) {
                for (int y = 0; y < h; y++) {
                    for (int x = 0; x < w; x++) {
                        int sx = left + (mirror ? w - 1 - x : x);
                        int value = p.pixels()[(ch * p.height() + top + y) * p.width() + sx] & 0xff;
                        seg.set(
                                ValueLayout.JAVA_FLOAT_UNALIGNED,
                                base + 4L * ((ch * h + y) * w + x),
                                value / 127.5f - 1f);
                    }
                }
            }
            return labels[e];
        }
    }

    /**
     * Moving MNIST clips [F, 1, H, W] (H = W), generated on demand: clip e is a pure function of e
     * and a fixed seed ({@link MovingMnist}), so the set is 2³⁰ clips that every run shares and a
     * run's seed only picks among; a clip's class is its first digit's label.
     */
    record Moving(byte[] digits, byte[] labels, int digitCount, int frames, int frame, int size, int objects)
            implements TrainingData {
        /** The clips' seed: fixed, so that the data set is the same for every run. */
        static final long SEED = 0x4D4E4953544DL;

        static Moving read(PipelineDefinition def, PipelineSettings.MovingMnistData d, int[] shape) {
            if (shape.length != 4 || shape[1] != 1 || shape[2] != shape[3]) {
                throw def.error(
                        d.span(),
                        "moving_mnist(...) gives grey clips [F, 1, H, H] (Latte's layout); the model takes "
                                + Arrays.toString(shape));
            }
            int frame = d.frame() == 0 ? shape[2] : d.frame();
            if (frame < MovingMnist.DIGIT || frame % shape[2] != 0) {
                throw def.error(
                        d.span(),
                        d.frame() == 0
                                ? "moving_mnist(...) makes frames of at least 28 pixels, the model takes "
                                        + Arrays.toString(shape) + "; give frame = 64 to make them at 64×64 and"
                                        + " shrink them to " + shape[2] + "×" + shape[2]
                                : "frame = " + frame + " does not shrink to the model's " + shape[2] + "×" + shape[2]
                                        + ": give a multiple of " + shape[2]);
            }
            LabelledImages read = LabelledImages.read(def, d.images(), d.labels(), d.span(), "digits");
            int[] s = read.images().shape();
            if (s[1] != MovingMnist.DIGIT || s[2] != MovingMnist.DIGIT) {
                throw def.error(
                        d.span(),
                        "the digits are " + Arrays.toString(s) + "; moving_mnist(...) takes MNIST's" + " [N, 28, 28]");
            }
            return new Moving(read.images().data(), read.labels().data(), s[0], shape[0], frame, shape[2], d.digits());
        }

        public int count() {
            return 1 << 30;
        }

        public int maxLabel() {
            return LabelledImages.maxLabel(labels);
        }

        public long put(int e, int row, boolean mirror, float u, float v, Tensor out) {
            long clipBytes = 4L * frames * size * size;
            int first = MovingMnist.render(
                    digits,
                    digitCount,
                    SEED,
                    e,
                    frames,
                    frame,
                    size,
                    objects,
                    out.storage(),
                    out.byteOffset() + row * clipBytes);
            return labels[first] & 0xff;
        }
    }

    /** IDX images [N, H, W] with N > 0 and their labels [N], as MNIST's files hold them. */
    record LabelledImages(IdxReader.Idx images, IdxReader.Idx labels) {
        /** Reads both files; {@code what} names them in the message when they cannot be read ("data", "digits"). */
        static LabelledImages read(PipelineDefinition def, Path images, Path labels, Span span, String what) {
            IdxReader.Idx i;
            IdxReader.Idx l;
            try {
                i = IdxReader.read(images);
                l = IdxReader.read(labels);
            } catch (IOException e) {
                throw def.error(span, "cannot read the " + what + ": " + e.getMessage());
            }
            int[] s = i.shape();
            if (s.length != 3 || l.shape().length != 1 || l.shape()[0] != s[0] || s[0] == 0) {
                throw def.error(
                        span,
                        "images " + Arrays.toString(s) + " and labels " + Arrays.toString(l.shape())
                                + " must be [N, H, W] and [N] with N > 0");
            }
            return new LabelledImages(i, l);
        }

        /** The largest of unsigned byte labels. */
        static int maxLabel(byte[] labels) {
            int max = 0;
            for (byte l : labels) {
                max = Math.max(max, l & 0xff);
            }
            return max;
        }
    }
}
