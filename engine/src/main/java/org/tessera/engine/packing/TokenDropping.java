package org.tessera.engine.packing;

import org.tessera.engine.random.RandomStream;

/**
 * Which of an example's patches go into the packed rows. Dropping makes sequences shorter, so more
 * examples fit a row and attention costs less:
 *
 * <ul>
 *   <li>{@link Random}: each patch dropped with a probability, drawn from a seed — a training
 *       speed-up (the loss covers the kept patches only);
 *   <li>{@link Similar}: a clip's patch dropped when its cosine similarity to the patch last kept at
 *       its place (in an earlier frame) exceeds a threshold (the Sora notes' 根据图像相似度丢弃雷同的图像块):
 *       a static scene costs its first frame; where an output is needed, the dropped patch takes
 *       the previous frame's output at its place.
 * </ul>
 */
public sealed interface TokenDropping {
    /** Every patch kept. */
    TokenDropping NONE = new None();

    record None() implements TokenDropping {}

    /** Each patch dropped with probability {@code rate}; example e draws from Philox stream e of {@code seed}. */
    record Random(double rate, long seed) implements TokenDropping {
        public Random {
            if (!(rate >= 0 && rate < 1)) {
                throw new IllegalArgumentException("a drop rate must be in [0, 1), got " + rate);
            }
        }

        boolean drops(int example, int position) {
            return new RandomStream(seed, example).uniform(position) < rate;
        }
    }

    /**
     * A patch of frame t > 0 dropped when cos(patch, the patch last kept at its place) >
     * {@code threshold}: a slow drift is kept once it has drifted far enough.
     *
     * <p>Only a {@code share} of the clips is thinned so; example e is when stream e of {@code seed}
     * draws below it, and the others keep every patch. Why a share: a model trained on thinned clips
     * alone never denoises a later frame's repeated patches (a still background), yet sampling has
     * them all, and it fills them (samples/moving-mnist-packed-train.tess, trained on thinned clips
     * only, drew every frame after the first full of strokes).
     */
    record Similar(double threshold, double share, long seed) implements TokenDropping {
        public Similar {
            if (!(threshold > -1 && threshold <= 1)) {
                throw new IllegalArgumentException("a similarity threshold must be in (−1, 1], got " + threshold);
            }
            if (!(share > 0 && share <= 1)) {
                throw new IllegalArgumentException("the share of clips thinned must be in (0, 1], got " + share);
            }
        }

        /** Every clip thinned. */
        public Similar(double threshold) {
            this(threshold, 1, 0);
        }

        /** Whether example e is thinned. */
        boolean thins(int example) {
            return share >= 1 || new RandomStream(seed, example).uniform(0) < share;
        }
    }
}
