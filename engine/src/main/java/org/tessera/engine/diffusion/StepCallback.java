package org.tessera.engine.diffusion;

import org.tessera.engine.tensor.Tensor;

/** Called after every sampler step, e.g. for progress bars and previews. */
@FunctionalInterface
public interface StepCallback {
    /** Does nothing. */
    StepCallback NONE = (step, total, timestep, x, predictedX0) -> {};

    /**
     * @param step 0 for the first (noisiest) step, {@code total − 1} for the last
     * @param total the number of steps of this run
     * @param timestep the original timestep the model saw at this step
     * @param x the new sample x_{t−1}; valid only during the call (the sampler updates it in place)
     * @param predictedX0 the model's estimate of x_0 at this step; valid only during the call
     *     (a work buffer of the sampler's, freed when the run ends)
     */
    void onStep(int step, int total, int timestep, Tensor x, Tensor predictedX0);

    /**
     * Called before each sampling stage of a pipeline of stages, so that progress can say which
     * stage runs; the steps that follow belong to it.
     *
     * @param stage the stage's name
     * @param index 0 for the first sampling stage
     * @param count how many sampling stages the pipeline has
     */
    default void onStage(String stage, int index, int count) {}

    /**
     * Called before each segment of a video that grows a segment at a time (Video LDM's
     * prediction mode, {@code segments = n}); the steps that follow belong to it.
     *
     * @param index 0 for the first segment
     * @param count how many segments the stage samples
     */
    default void onSegment(int index, int count) {}

    /**
     * A stage's measurement, for the user: e.g. a classify stage's share of samples labelled with
     * the class they were sampled for.
     *
     * @param stage the stage's name
     * @param report one line of text
     */
    default void onReport(String stage, String report) {}
}
