package org.tessera.runtime;

import java.nio.file.Path;

/** What {@link Tessera#train} reports while it trains, and how it is asked to stop. */
public interface TrainingListener {
    /**
     * Before a stage's first step of this run.
     *
     * @param batch examples per step
     * @param firstStep the step this run starts at (after a checkpoint's, when resuming)
     */
    default void onStart(String stage, int batch, long firstStep, long total) {}

    /**
     * Once per stage, before {@link #onStart}: how a step's memory is planned, one line for
     * people, e.g. {@code a step plans 61.2 MB of buffers; recompute: 24 forward values in the
     * backward pass (gelu ×6, …), 12.6 MB fewer kept}.
     */
    default void onPlan(String stage, String plan) {}

    /** After each step: its loss and the learning rate it used. */
    void onStep(String stage, long step, long total, double loss, double learningRate);

    /**
     * A classifier's accuracy on its held-out {@code test} data, measured with the trained
     * (averaged) weights once its last step is done.
     *
     * @param byClass the share labelled correctly per class, in class order
     */
    default void onTestAccuracy(String stage, long correct, long total, java.util.Map<Long, Double> byClass) {}

    /** A grid of samples from the weights' average was written (every {@code sample_every} steps). */
    default void onSamples(String stage, long step, Path file) {}

    /** A checkpoint was written (every N steps, at the end, and when stopped). */
    default void onCheckpoint(String stage, long step, Path file) {}

    /**
     * Polled after each step: true to write a checkpoint and stop, for a later run to resume
     * (the command line answers Ctrl-C so).
     */
    default boolean stopRequested() {
        return false;
    }
}
