package org.tessera.dsl.pipeline;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.tessera.dsl.diag.Span;

/**
 * A pipeline's settings after checking: what to build, where its weights come from, and either
 * the inputs of one forward pass or how to sample.
 *
 * @param name the pipeline's name
 * @param weights a checkpoint or random weights
 * @param inputs tensors for a single forward pass (forward mode), or null to sample
 * @param sampling schedule, sampler, guidance, classes, latent shape (sampling mode), or null
 * @param seed the default seed ({@code --seed} overrides it)
 * @param outputs files to write
 */
public record PipelineSettings(String name, Weights weights, Inputs inputs, Sampling sampling,
                               long seed, List<Output> outputs, Span span) {

    /** Where weights come from. */
    public sealed interface Weights permits Checkpoint, RandomWeights {}

    /** A safetensors file with the reference key names. */
    public record Checkpoint(Path path, Span span) implements Weights {}

    /** N(0, std²) weights from a seed, for benchmarking and smoke tests. */
    public record RandomWeights(long seed, double std, Span span) implements Weights {}

    /** {@code load("file.safetensors", x = "forward.x", ...)}: forward inputs by name. */
    public record Inputs(Path path, Map<String, String> names, Span span) {}

    /**
     * @param schedule schedule kind: linear, cosine, scaled_linear, sqrt_linear
     * @param scheduleSteps T of the training process
     * @param sampler ddim or ddpm
     * @param steps sampling steps (the schedule is respaced to them)
     * @param spacing which timesteps the steps keep ({@code "ddim25"}, {@code "10,15,20"}), or null
     *     for {@code "steps"}: evenly spaced, as DiT's {@code respace.py} reads a plain count
     * @param eta DDIM η
     * @param guidanceScale classifier-free guidance scale, 1 for none
     * @param guidanceForm "dit" (first three channels, DiT's published variant) or "standard"
     * @param classes class labels, one sample each
     * @param latent latent shape per sample [C, H, W]
     * @param clipX0 whether to clip the predicted x₀ to [−1, 1]
     */
    public record Sampling(String schedule, int scheduleSteps, String sampler, int steps, String spacing, double eta,
                           double guidanceScale, String guidanceForm, long[] classes, int[] latent, boolean clipX0,
                           Span span) {}

    /**
     * {@code output "file" = format(name)}: format is {@code tensors} (safetensors of the named
     * results), {@code png} (one image per sample) or {@code grid} (all samples in one image).
     */
    public record Output(String file, String format, List<String> names, Span span) {}
}
