package org.tessera.dsl.sema;

/**
 * What one script may ask of the compiler. Each limit lies far above any published model and far
 * below what would take minutes or gigabytes before failing: a typo such as {@code depth =
 * 2800000} is an error at its place, not an hour of work ending in an out-of-memory trace.
 * (Tensor sizes and graph sizes are bounded in the engine: {@code Shapes.MAX_ELEMENTS},
 * {@code GraphBuilder.MAX_NODES}; memory is estimated before anything is allocated.)
 */
public final class Limits {
    private Limits() {}

    /** Block instances in one model: DiT-XL/2 has under 200. */
    public static final int MAX_BLOCK_INSTANCES = 10_000;

    /** Steps of a noise schedule (and so of a sampler): published models use 1000. */
    public static final int MAX_SCHEDULE_STEPS = 100_000;

    /** Optimisation steps of one train stage (and its warm-up and checkpoint interval). */
    public static final int MAX_TRAINING_STEPS = 100_000_000;

    /** Items of a list of integers a setting spells ({@code classes = range(10) * 1000}). */
    public static final int MAX_LIST_ITEMS = 1_000_000;
}
