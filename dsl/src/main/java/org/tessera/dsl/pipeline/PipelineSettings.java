package org.tessera.dsl.pipeline;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.tessera.dsl.diag.Span;

/**
 * A pipeline's settings after checking: a program of stages, its default seed and its outputs.
 *
 * <p>A pipeline written with slots ({@code model = …}, {@code sampler = …}) is the one-stage case:
 * one {@link SampleStage} named {@code samples}, or one {@link ForwardStage} named {@code out}
 * for a pipeline with {@code inputs}. A pipeline of stages binds each with {@code let}:
 *
 * <pre>
 * let base = sample(model = DiT(...), weights = random(seed = 1), sampler = ddim(steps = 10), classes = [1, 7])
 * let up   = upsample(base, 2)
 * let sr   = sample(model = DiTSR(...), weights = ..., condition = up, classes = [1, 7])
 * </pre>
 *
 * @param name the pipeline's name
 * @param stages the stages in the order they run; each reads only stages before it
 * @param seed the default seed ({@code --seed} overrides it)
 * @param outputs files to write
 * @param staged whether the script binds stages with {@code let} (else the slot form)
 */
public record PipelineSettings(
        String name, List<Stage> stages, long seed, List<Output> outputs, boolean staged, Span span) {
    public PipelineSettings {
        stages = List.copyOf(stages);
        outputs = List.copyOf(outputs);
    }

    /** One step of a pipeline's program; its result is named {@link #name()}. */
    public sealed interface Stage
            permits SampleStage,
                    ForwardStage,
                    ApplyStage,
                    UpsampleStage,
                    ConcatStage,
                    TrainStage,
                    ImageStage,
                    PackStage,
                    UnpackStage {
        String name();

        Span span();
    }

    /**
     * Sampling with a model of its own.
     *
     * @param conditions the stages whose results feed the model's {@code condition} inputs, in the
     *     contract's order
     */
    /**
     * @param init the stage whose result the sampling starts from (img2img: an encoded image), or
     *     null to start from noise
     * @param strength with {@code init}: how much of the sampling runs, 0..1 — the init is noised
     *     to the step where the last {@code strength} of the steps begin, as diffusers' img2img does
     */
    public record SampleStage(
            String name,
            Weights weights,
            Sampling sampling,
            List<String> conditions,
            String init,
            double strength,
            Span span)
            implements Stage {
        public SampleStage {
            conditions = List.copyOf(conditions);
        }
    }

    /**
     * An image read from a file (PNG, JPEG, GIF, BMP) as a batch of one [1, 3, H, W] in [−1, 1]:
     * centre-cropped to a square and resized to {@code size} pixels when size is above 0.
     */
    public record ImageStage(String name, Path path, int size, Span span) implements Stage {}

    /**
     * Training a model ({@code tessera train}): its result is the trained weights, written by an
     * output {@code weights(stage)}.
     *
     * @param weights where training starts: random weights, or a checkpoint to fine-tune
     */
    public record TrainStage(String name, Weights weights, Training training, Span span) implements Stage {}

    /**
     * Token dropping in packed training (Patch n' Pack): {@code random(rate)} leaves each patch out
     * with probability rate, {@code similar(threshold)} leaves out a clip's patch whose cosine
     * similarity to the patch last kept at its place (in an earlier frame) exceeds threshold.
     *
     * {@code similar(threshold, share = s)} thins only a share s of the clips and keeps the others
     * whole, so that the model also learns the repeated patches that sampling has.
     *
     * @param similar true for {@code similar(threshold)}, false for {@code random(rate)}
     * @param value the rate or the threshold
     * @param share the share of the clips similarity thins (1 for random dropping)
     */
    public record Dropping(boolean similar, double value, double share) {}

    /**
     * How a train stage trains.
     *
     * @param objective {@code diffusion} (the default: L_simple, with the variational bound when
     *     the model learns a range of variances, as DiT trains), {@code simple} (L_simple towards the
     *     contract's target), {@code hybrid} (L_simple + L_vlb) or {@code classify} (cross-entropy of
     *     the model's logits against the labels)
     * @param data the images and labels
     * @param test held-out images and labels a classifier's accuracy is measured on at the end, or null
     * @param schedule the noise schedule's kind (linear, cosine, …, or flow: a rectified flow)
     * @param scheduleSteps T
     * @param shift a flow's time shift (1 for none; unused by diffusion schedules)
     * @param batch examples per step
     * @param steps optimisation steps in all
     * @param learningRate AdamW's peak rate
     * @param warmup steps of linear warm-up
     * @param cosine true for a cosine decay after warm-up, false for a constant rate
     * @param weightDecay AdamW's decoupled decay
     * @param clip the global gradient norm gradients are clipped to
     * @param ema the decay of the weights' moving average (0.9999 in DiT)
     * @param labelDropout the probability of training a label as the null label, for guidance;
     *     NaN when not given (0.1 for a model with a null label, none for one without)
     * @param seed the seed of every random draw (timesteps, noise, batches, dropout)
     * @param checkpointEvery steps between checkpoints
     * @param sampleEvery steps between grids of samples from the weights' average, 0 for none
     * @param freeze weights kept as they are: glob patterns on checkpoint keys ({@code blocks.*})
     * @param sizes a packed model's training sizes, [H, W] (an image) or [F, H, W] (a clip of F
     *     frames taken at a stride from the data's clips), one drawn per example: each frame is
     *     centred on H×W (padded with −1 or cropped); null to train at the data's own size
     * @param pack a packed model's row length in tokens, or 0 for the largest size's
     * @param drop which patches a packed model's training leaves out of its rows, or null for none
     * @param snrGamma Min-SNR-γ loss weighting (Hang et al. 2023; diffusers' {@code snr_gamma}):
     *     each example's loss weighted so that its effective weight on x₀ is min(SNR_t, γ); 0 for
     *     none
     * @param contextFrames a model with context frames (Video LDM's prediction mode): the numbers
     *     of a clip's first frames it is given, one drawn uniformly for each example each step ([0,
     *     1, 2] as Video LDM trains); null when not given
     * @param keyframes for a model with context frames: the share of examples given their first
     *     and last frames instead, so that it also learns to fill in between keyframes; 0 for none
     */
    public record Training(
            String objective,
            Dataset data,
            Dataset test,
            String schedule,
            int scheduleSteps,
            double shift,
            int batch,
            long steps,
            double learningRate,
            long warmup,
            boolean cosine,
            double weightDecay,
            double clip,
            double ema,
            double labelDropout,
            long seed,
            long checkpointEvery,
            long sampleEvery,
            List<String> freeze,
            int[][] sizes,
            int pack,
            Dropping drop,
            double snrGamma,
            int[] contextFrames,
            double keyframes,
            Span span) {
        public Training {
            freeze = List.copyOf(freeze);
        }

        /** True for a rectified flow's training ({@code schedule = flow(1000)}). */
        public boolean isFlow() {
            return schedule.equals("flow");
        }

        /** True for a classifier's training ({@code objective = "classify"}). */
        public boolean classifies() {
            return objective.equals("classify");
        }
    }

    /** Where a train stage's examples come from. */
    public sealed interface Dataset permits IdxData, ImageFolderData, MovingMnistData, MixedData {
        /** Whether a random half of each batch is mirrored left to right. */
        boolean flip();

        Span span();
    }

    /**
     * Images and labels in IDX files (MNIST's format), e.g. Fashion-MNIST's:
     * {@code idx("images", labels = "labels", pad = 2, flip = true)}.
     *
     * @param pad zero pixels added on each side (28 → 32 with 2), in the [−1, 1] scale: −1
     */
    public record IdxData(Path images, Path labels, int pad, boolean flip, Span span) implements Dataset {}

    /**
     * A folder of PNG and JPEG images, {@code images("folder", crop = "random", flip = true)}: one
     * class per sub-folder in name order (torchvision's ImageFolder), or one class. Each image is
     * scaled to cover the model's size and cropped to it.
     *
     * @param randomCrop a crop at a random place each time the image is drawn ({@code "random"}),
     *     else at the centre ({@code "center"})
     */
    public record ImageFolderData(Path folder, boolean randomCrop, boolean flip, Span span) implements Dataset {}

    /**
     * Moving MNIST generated from MNIST's training digits,
     * {@code moving_mnist("train-images-idx3-ubyte", labels = "train-labels-idx1-ubyte", digits = 2)}:
     * clips [F, 1, H, W] of {@code digits} digits bouncing in the model's frame (F and H = W from the
     * model; for a packed model, H from its input_size and F the most frames its training sizes
     * take), each a pure function of the run's seed and its index; a clip's class is its first
     * digit's label. Never mirrored. With {@code frame = 64} each clip is made at 64 × 64 and
     * shrunk to the model's H by area averaging ({@code frame} 0: made at H).
     */
    public record MovingMnistData(Path images, Path labels, int digits, int frame, Span span) implements Dataset {
        @Override
        public boolean flip() {
            return false;
        }
    }

    /**
     * Several data sets as one, for a packed model, which takes images and clips in one batch:
     * {@code mix(idx(...), moving_mnist(...))}. Each example comes from a part drawn uniformly; the
     * classes are numbered on from part to part (the first's 0..9, the second's 10..19, …), so
     * that a garment and a digit of the same label are different classes. Each part mirrors as it
     * says.
     */
    public record MixedData(List<Dataset> parts, Span span) implements Dataset {
        public MixedData {
            parts = List.copyOf(parts);
        }

        @Override
        public boolean flip() {
            return false;
        }
    }

    /** One forward pass on tensors from a file; its results are {@code out} and the inputs by name. */
    public record ForwardStage(String name, Weights weights, Inputs inputs, Span span) implements Stage {}

    /**
     * A model's forward pass on an earlier stage's result: {@code decode} (e.g. a VAE decoder on
     * latents), {@code encode}, or {@code classify} (a classifier's logits [N, K] for a stage's
     * samples; when that stage samples classes, the run reports the share labelled with the class
     * each was sampled for). The model takes exactly one forward input.
     *
     * @param verb {@code decode}, {@code encode} or {@code classify}, as written
     * @param tile for decode and encode: the input is cut into tiles of this many pixels square
     *     (0: whole), which overlap by {@code overlap} and are blended linearly, so that memory
     *     follows the tile and not the image
     */
    public record ApplyStage(String name, String verb, String input, Weights weights, int tile, int overlap, Span span)
            implements Stage {}

    /**
     * Nearest-neighbour upsampling of a stage's result by an integer factor: in space (H and W of
     * [N, C, H, W] or a video's [N, F, C, H, W]), in time (F, each frame repeated, as a temporal
     * super-resolution stage's condition), or both.
     *
     * @param axes {@code space}, {@code time} or {@code spacetime}
     */
    public record UpsampleStage(String name, String input, int factor, String axes, Span span) implements Stage {}

    /** Stages' results joined along {@code dim} (channels of images: 1; of videos [N, F, C, H, W]: 2). */
    public record ConcatStage(String name, List<String> inputs, int dim, Span span) implements Stage {
        public ConcatStage {
            inputs = List.copyOf(inputs);
        }
    }

    /**
     * Patch n' Pack as an operation: every example of the input stages (images [N, C, H, W], clips
     * [N, F, C, H, W], each at its own size where a packed sample stage gives sizes) cut into
     * patches of {@code frames}×{@code patch}×{@code patch} and packed, first-fit decreasing, into
     * rows of {@code row} tokens; the result is the rows' tokens with their segments, example ids
     * and positions beside them.
     *
     * @param drop the patches left out (random or by similarity to the previous frame), or null
     * @param seed random dropping's seed
     */
    public record PackStage(
            String name, List<String> inputs, int patch, int frames, int row, Dropping drop, long seed, Span span)
            implements Stage {
        public PackStage {
            inputs = List.copyOf(inputs);
        }
    }

    /**
     * A pack stage's rows cut back into its examples, padded to the largest as a packed sample
     * stage's are ([N, C, H, W], or [N, F, C, H, W] when any is a clip), each with its own size; a
     * dropped patch takes the previous frame's at its place.
     */
    public record UnpackStage(String name, String input, Span span) implements Stage {}

    /** The sampling settings of a one-stage sampling pipeline, else null. */
    public Sampling sampling() {
        return !staged && stages.size() == 1 && stages.get(0) instanceof SampleStage s ? s.sampling() : null;
    }

    /** The inputs of a one-stage forward pipeline, else null. */
    public Inputs inputs() {
        return !staged && stages.size() == 1 && stages.get(0) instanceof ForwardStage f ? f.inputs() : null;
    }

    /** Where weights come from. */
    public sealed interface Weights permits Checkpoint, RandomWeights {}

    /** A safetensors file with the reference key names. */
    public record Checkpoint(Path path, Span span) implements Weights {}

    /**
     * Weights drawn from a seed: N(0, std²) each ({@code random(seed, std)}), or, with
     * {@code declared}, as the model declares each weight starts ({@code init(seed)}: DiT's
     * xavier-uniform linears, zero adaLN and final layer, sin-cos position table), N(0, std²)
     * where it declares nothing. With {@code from} (a train stage's {@code init(seed = 0, from =
     * "image.safetensors")}), the weights that file holds are taken from it instead: a model
     * grown from another (Video LDM's temporal layers around an image model) starts with both
     * weight sets. {@code rename} maps the file's key prefixes to the model's ({@code rename =
     * [["blocks.1.", "blocks.2."]]}): each key takes the first pair whose prefix it starts with, so
     * an image DiT's blocks can become the spatial blocks of a Latte that interleaves them with
     * temporal ones.
     */
    public record RandomWeights(long seed, double std, boolean declared, Path from, List<Rename> rename, Span span)
            implements Weights {
        public RandomWeights {
            rename = List.copyOf(rename);
        }
    }

    /** One prefix mapping of {@code init(from = ..., rename = ...)}: a file key starting with {@code from}. */
    public record Rename(String from, String to, Span span) {
        /** The key with this prefix replaced, or null where it does not start with it. */
        public String apply(String key) {
            return key.startsWith(from) ? to + key.substring(from.length()) : null;
        }
    }

    /** {@code load("file.safetensors", x = "forward.x", ...)}: forward inputs by name. */
    public record Inputs(Path path, Map<String, String> names, Span span) {}

    /**
     * @param schedule schedule kind: linear, cosine, scaled_linear, sqrt_linear, or flow (a rectified flow)
     * @param scheduleSteps T of the training process
     * @param shift the time shift of a {@code flow} schedule (1 for none; unused otherwise)
     * @param sampler the name of the sampler (a {@code sampler} declaration, e.g. the stdlib's ddim)
     * @param steps sampling steps (the schedule is respaced to them)
     * @param spacing which timesteps the steps keep ({@code "ddim25"}, {@code "10,15,20"}), or null
     *     for {@code "steps"}: evenly spaced, as DiT's {@code respace.py} reads a plain count
     * @param guidanceScale classifier-free guidance scale, 1 for none
     * @param guidanceForm "dit" (first three channels, DiT's published variant), "latte" (the
     *     first four, Latte's {@code forward_with_cfg}) or "standard" (all ε channels), along the
     *     model contract's {@code split_axis}
     * @param classes class labels, one sample each
     * @param latent latent shape per sample, any rank ([C, H, W], [F, C, H, W]), or null for the model's annotation
     * @param sizes each sample's own latent size, [H, W] or [F, H, W], for a packed model (Patch n'
     *     Pack: the samples of several sizes share rows of tokens), or null for one size
     * @param pack a packed model's row length in tokens, or 0 for the longest sample's
     * @param clipX0 whether to clip the predicted x₀ to [−1, 1]
     * @param noise the starting noise x_T ({@code noise = load("x.safetensors", "key")}), or null
     *     to draw it from the seed
     * @param context context frames for a model that takes them (Video LDM's prediction mode), or
     *     null for none: the sampling starts from noise alone, in one segment
     * @param span the stage (or the pipeline, in the one-stage form)
     * @param classesSpan where the classes are given (the stage's span when they are defaulted)
     */
    public record Sampling(
            String schedule,
            int scheduleSteps,
            double shift,
            String sampler,
            int steps,
            String spacing,
            double guidanceScale,
            String guidanceForm,
            long[] classes,
            int[] latent,
            int[][] sizes,
            int pack,
            boolean clipX0,
            TensorRef noise,
            Context context,
            Span span,
            Span classesSpan) {
        /** True for the rectified-flow schedule ({@code schedule = flow(1000, shift = 3.0)}). */
        public boolean isFlow() {
            return schedule.equals("flow");
        }
    }

    /**
     * Video LDM's context frames in sampling ({@code context = load("clips.safetensors", "samples"),
     * context_frames = 2, segments = 3}): the first segment is given the last {@code frames} frames
     * of the clips, or nothing when there are none; each further segment the last {@code frames}
     * frames of the one before, so that a video of F + (segments − 1)·(F − frames) frames grows a
     * segment at a time. With {@code interpolate = s}, the clips' every s-th frame is a keyframe
     * and each clip sampled fills in between two of them.
     *
     * @param clips the clips [N or 1, F', C, H, W] the first segment continues, or null
     * @param data a data set whose first N clips (F frames each, the model's) the first segment
     *     continues, each sampled for its own class (its first digit's), or null
     * @param frames S, the frames each segment is given
     * @param segments how many clips of F frames are sampled one after another
     * @param interpolate instead of continuing: fill in between keyframes, every {@code
     *     interpolate}-th frame of the clips, each pair the first and last frames of a clip; 0 for
     *     prediction
     */
    public record Context(
            TensorRef clips, MovingMnistData data, int frames, int segments, int interpolate, Span span) {}

    /** One tensor of a safetensors file. */
    public record TensorRef(Path path, String key, Span span) {}

    /**
     * {@code output "file" = format(name)}: format is {@code tensors} (safetensors of the named
     * results), {@code png} (one image per sample), {@code grid} (all samples in one image),
     * {@code preview} (SD-VAE latents in approximate colour, tiled), {@code video} (each sample
     * [F, C, H, W] as an animated .gif, an H.264 .mp4 or numbered .png frames) or {@code weights}
     * (a train stage's trained weights, the EMA's, as a checkpoint the model loads).
     *
     * @param columns samples per row of a grid or preview, 0 for a square-ish grid
     * @param scale a grid's, preview's or video's pixels per sample pixel (nearest neighbour), 1 for none
     * @param fps a video's frames per second (0 for other formats)
     * @param labels a grid's labels under each sample: null for none, empty for the class each was
     *     sampled for, else names by class
     */
    public record Output(
            String file,
            String format,
            List<String> names,
            int columns,
            int scale,
            int fps,
            List<String> labels,
            boolean averaged,
            Span span) {
        /** An output without labels. */
        public Output(String file, String format, List<String> names, int columns, int scale, int fps, Span span) {
            this(file, format, names, columns, scale, fps, null, true, span);
        }
    }
}
