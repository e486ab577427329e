package org.tessera.engine.diffusion;

/** A sampler step produced NaN or infinite values; names the step and its timestep. */
public final class SamplingException extends RuntimeException {
    private final int step;
    private final int timestep;

    public SamplingException(String message, int step, int timestep) {
        super(message);
        this.step = step;
        this.timestep = timestep;
    }

    /**
     * Throws when {@code x}, the sample after step {@code i} of {@code total}, holds a NaN or an
     * infinity, naming the sampler, the step, the timestep and the first bad element.
     */
    public static void checkFinite(String sampler, org.tessera.engine.tensor.Tensor x, int i, int total, int timestep) {
        long first = Buffers.firstNonFinite(x);
        if (first >= 0) {
            throw new SamplingException(
                    sampler + ": step " + i + " of " + total + " (timestep " + timestep + ") produced "
                            + Buffers.countNonFinite(x) + " non-finite values (first at element " + first + ": "
                            + Buffers.get(x, first) + ")",
                    i,
                    timestep);
        }
    }

    /** The step (0 = first) that failed. */
    public int step() {
        return step;
    }

    /** The original timestep of that step. */
    public int timestep() {
        return timestep;
    }
}
