package org.tessera.runtime;

import java.util.Arrays;
import org.tessera.engine.tensor.Tensor;

/**
 * What a sampling call produced.
 *
 * @param samples x_0, F32 [classes, C, H, W] (latents for a latent model), owned by the caller
 * @param classes the class label of each sample
 * @param seed the seed used
 * @param timesteps the timesteps the model saw, from the first step (the noisiest) to the last
 * @param guidanceScale the guidance scale used (1: none)
 * @param sizes each sample's own [H, W] (or [F, H, W]) when a packed model sampled several sizes
 *     into one batch padded to the largest, else null: every sample fills {@code samples}
 */
public record SampleResult(
        Tensor samples, long[] classes, long seed, int[] timesteps, double guidanceScale, int[][] sizes) {
    public SampleResult {
        classes = classes.clone();
        timesteps = timesteps.clone();
        sizes = sizes == null ? null : Arrays.stream(sizes).map(int[]::clone).toArray(int[][]::new);
    }

    /** Samples of one size. */
    public SampleResult(Tensor samples, long[] classes, long seed, int[] timesteps, double guidanceScale) {
        this(samples, classes, seed, timesteps, guidanceScale, null);
    }

    @Override
    public int[][] sizes() {
        return sizes == null ? null : Arrays.stream(sizes).map(int[]::clone).toArray(int[][]::new);
    }

    @Override
    public long[] classes() {
        return classes.clone();
    }

    @Override
    public int[] timesteps() {
        return timesteps.clone();
    }

    /** The number of sampling steps taken. */
    public int steps() {
        return timesteps.length;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof SampleResult r
                && samples == r.samples
                && Arrays.equals(classes, r.classes)
                && seed == r.seed
                && Arrays.equals(timesteps, r.timesteps)
                && Double.compare(guidanceScale, r.guidanceScale) == 0
                && Arrays.deepEquals(sizes, r.sizes);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(classes) * 31 + Long.hashCode(seed);
    }

    @Override
    public String toString() {
        return "SampleResult[samples=" + Arrays.toString(samples.shape()) + ", classes=" + Arrays.toString(classes)
                + ", seed=" + seed + ", steps=" + timesteps.length + ", guidance=" + guidanceScale + "]";
    }
}
