package org.tessera.runtime;

import java.util.Arrays;
import java.util.Objects;
import org.tessera.engine.tensor.Tensor;

/**
 * What to sample: a seed, and optionally anything that overrides the pipeline's own settings for
 * this one call. Immutable; build it with {@link #seed(long)} and the {@code with…} methods:
 *
 * <pre>{@code
 * SampleRequest r = SampleRequest.seed(7).withClasses(207, 360, 88).withSteps(25).withGuidance(1.5);
 * }</pre>
 *
 * @param seed the seed of the starting noise (stream 0) and of every step's noise
 * @param classes one sample per class label; null for the pipeline's {@code classes}. The batch
 *     size is the number of classes, and may differ from the pipeline's (a plan is compiled for
 *     each new batch size, once)
 * @param startNoise x_T, F32 [classes, C, H, W]; null to draw it from the seed
 * @param steps sampling steps; 0 for the pipeline's
 * @param spacing which timesteps to keep: {@code "N"} (evenly), {@code "ddimN"} (an integer
 *     stride, as DDIM), or section counts such as {@code "10,15,20"}; null for {@code "N"} with the
 *     step count
 * @param guidanceScale classifier-free guidance scale (1 for none); NaN for the pipeline's
 * @param eta DDIM's η; NaN for the pipeline's
 */
public record SampleRequest(
        long seed, long[] classes, Tensor startNoise, int steps, String spacing, double guidanceScale, double eta) {
    public SampleRequest {
        classes = classes == null ? null : classes.clone();
        if (classes != null && classes.length == 0) {
            throw new IllegalArgumentException("SampleRequest: classes must not be empty");
        }
        if (steps < 0) {
            throw new IllegalArgumentException(
                    "SampleRequest: steps must be positive (0 for the pipeline's), got " + steps);
        }
        if (!Double.isNaN(eta) && !(eta >= 0)) {
            throw new IllegalArgumentException("SampleRequest: eta must be non-negative, got " + eta);
        }
        if (Double.isInfinite(guidanceScale)) {
            throw new IllegalArgumentException("SampleRequest: the guidance scale must be finite");
        }
    }

    /** Everything as the pipeline says, from {@code seed}. */
    public static SampleRequest seed(long seed) {
        return new SampleRequest(seed, null, null, 0, null, Double.NaN, Double.NaN);
    }

    public SampleRequest withClasses(long... labels) {
        return new SampleRequest(seed, Objects.requireNonNull(labels), startNoise, steps, spacing, guidanceScale, eta);
    }

    /** Starts from {@code xT} instead of noise drawn from the seed (the seed still draws each step's noise). */
    public SampleRequest withStartNoise(Tensor xT) {
        return new SampleRequest(seed, classes, Objects.requireNonNull(xT), steps, spacing, guidanceScale, eta);
    }

    public SampleRequest withSteps(int n) {
        if (n < 1) {
            throw new IllegalArgumentException("SampleRequest: steps must be at least 1, got " + n);
        }
        return new SampleRequest(seed, classes, startNoise, n, spacing, guidanceScale, eta);
    }

    /** {@code "ddim25"}, {@code "25"} or {@code "10,15,20"}; see the record's documentation. */
    public SampleRequest withSpacing(String s) {
        return new SampleRequest(seed, classes, startNoise, steps, Objects.requireNonNull(s), guidanceScale, eta);
    }

    /** Classifier-free guidance at {@code scale}; 1 turns it off. */
    public SampleRequest withGuidance(double scale) {
        return new SampleRequest(seed, classes, startNoise, steps, spacing, scale, eta);
    }

    public SampleRequest withEta(double e) {
        return new SampleRequest(seed, classes, startNoise, steps, spacing, guidanceScale, e);
    }

    @Override
    public long[] classes() {
        return classes == null ? null : classes.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof SampleRequest r
                && seed == r.seed
                && Arrays.equals(classes, r.classes)
                && startNoise == r.startNoise
                && steps == r.steps
                && Objects.equals(spacing, r.spacing)
                && Double.compare(guidanceScale, r.guidanceScale) == 0
                && Double.compare(eta, r.eta) == 0;
    }

    @Override
    public int hashCode() {
        return Objects.hash(seed, Arrays.hashCode(classes), steps, spacing, guidanceScale, eta);
    }

    @Override
    public String toString() {
        return "SampleRequest[seed=" + seed + ", classes=" + Arrays.toString(classes) + ", startNoise="
                + (startNoise == null ? "from seed" : Arrays.toString(startNoise.shape())) + ", steps=" + steps
                + ", spacing=" + spacing + ", guidance=" + guidanceScale + ", eta=" + eta + "]";
    }
}
