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

    /** The step (0 = first) that failed. */
    public int step() {
        return step;
    }

    /** The original timestep of that step. */
    public int timestep() {
        return timestep;
    }
}
