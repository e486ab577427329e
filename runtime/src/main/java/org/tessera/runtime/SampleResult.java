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
 */
public record SampleResult(Tensor samples, long[] classes, long seed, int[] timesteps, double guidanceScale) {
    public SampleResult {
        classes = classes.clone();
        timesteps = timesteps.clone();
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
                && Double.compare(guidanceScale, r.guidanceScale) == 0;
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
