package org.tessera.dsl;

import java.util.List;
import org.tessera.engine.diffusion.Parameterization;
import org.tessera.engine.diffusion.VarianceType;

/**
 * What a model is to a pipeline, as its {@code contract { ... }} declares it; nothing here is
 * guessed from shapes.
 *
 * <pre>
 * contract {
 *     latent     = x                 # the noisy latent x_t
 *     timestep   = t                 # the (unspaced) timestep
 *     label      = y                 # class conditioning (optional)
 *     null_label = num_classes       # the label that means "no class", for guidance (optional; -1: none)
 *     label_dropout = 0.1            # training's default share of null labels (optional)
 *     condition  = low               # further inputs given as they are at every step (optional; a name or a list)
 *     context    = context           # Video LDM's context frames (optional): [B, F, C + 1, H, W], see below
 *     predicts   = "eps"             # "eps", "x0", "v", or "flow" (a rectified flow's velocity): the first C output channels
 *     variance   = "learned_range"   # "fixed_small", "fixed_large" or "learned_range" (C more channels)
 *     split_axis = 1                 # the axis that holds those channels, and that guidance splits
 * }
 * </pre>
 *
 * <p>A model with context frames (Video LDM's prediction mode, for long videos) is given the
 * first S frames of the clip it denoises, clean: its context input is the clip in Latte's layout
 * [B, F, C, H, W] with those frames kept and the others zeroed, and one more channel, the mask,
 * 1 on the S frames and 0 elsewhere. Training draws S for each example (S = 0 is the model
 * without context, which classifier-free guidance takes as its null); sampling gives the last S
 * frames of earlier clips, so that a video grows a segment at a time.
 *
 * <p>A packed model (Patch n' Pack: the patches of samples of several sizes share rows of tokens)
 * also names its packing inputs, which the engine fills for each batch; its timestep and label
 * are per sample, [E]:
 *
 * <pre>
 *     packed     = patch_size        # the latent is rows of p×p patches [R, L, C·p·p], channel-major
 *     segments   = segments          # [R, L] each token's sample, −1 on padding
 *     gather     = gather            # [R, L] each token's sample, 0 on padding
 *     positions  = pos               # [R, L, D] 2-D sin-cos; or [rows, cols] into learned tables
 *                                    #   (with position_table = N, fractional = true), or
 *     rotary     = [cos, sin]        #   rotary tables [R, L, d] (with rope_sections = [t, h, w])
 * </pre>
 *
 * @param latent the forward input that is x_t
 * @param timestep the forward input that is the timestep
 * @param label the forward input that is the class label, or null
 * @param nullLabel the unconditional label for classifier-free guidance, or null when not given
 * @param conditions further forward inputs, in declaration order
 * @param prediction what the first C channels along {@code splitAxis} predict
 * @param variance how the reverse step's variance is chosen
 * @param splitAxis the channel axis
 * @param packing how a packed model's rows are made, or null for a model of one size
 * @param labelDropout the share of labels training turns into the null label unless the training
 *     says otherwise (DiT's class_dropout_prob), or null when not given
 * @param context the forward input of the context frames, or null for a model without them
 */
public record ModelContract(
        String latent,
        String timestep,
        String label,
        Long nullLabel,
        List<String> conditions,
        Prediction prediction,
        VarianceType variance,
        int splitAxis,
        Packing packing,
        Double labelDropout,
        String context) {
    public ModelContract {
        conditions = List.copyOf(conditions);
    }

    /** A contract of a model of one size. */
    public ModelContract(
            String latent,
            String timestep,
            String label,
            Long nullLabel,
            List<String> conditions,
            Prediction prediction,
            VarianceType variance,
            int splitAxis) {
        this(latent, timestep, label, nullLabel, conditions, prediction, variance, splitAxis, null, null, null);
    }

    /**
     * A packed model's inputs besides latent, timestep and label: what
     * {@code org.tessera.engine.packing.Patches} computes for each batch.
     *
     * @param patch the side of a square patch (frames are patched one by one)
     * @param segments the input of each token's sample id, −1 on padding (attention stays within a sample)
     * @param gather the input of each token's sample id, 0 on padding (per-sample lookups)
     * @param positions the inputs that place each token within its own sample
     */
    public record Packing(int patch, String segments, String gather, Positions positions) {}

    /** How a packed model is told where each token lies in its own sample. */
    public sealed interface Positions {
        /** DiT's 2-D sin-cos table, computed for each sample's grid: [R, L, D]. */
        record SinCos(String input) implements Positions {}

        /** NaViT's factorised learned positions: row and column indices [R, L] into tables of {@code table} rows. */
        record Learned(String rows, String cols, int table, boolean fractional) implements Positions {}

        /** Rotary tables cos and sin [R, L, d] over (t, h, w), the head width d split into {@code sections}. */
        record Rotary(String cos, String sin, int[] sections) implements Positions {}
    }

    /** What the first C output channels predict. */
    public enum Prediction {
        /** ε, the noise (Ho et al. 2020; DiT). */
        EPS(Parameterization.EPSILON),
        /** x₀ itself. */
        X0(Parameterization.X0),
        /** v = √ᾱ ε − √(1−ᾱ) x₀ (Salimans &amp; Ho 2022). */
        V(Parameterization.V),
        /** The velocity ε − x₀ of a rectified flow x_σ = (1 − σ) x₀ + σ ε: sampled on a flow schedule. */
        FLOW(null);

        private final Parameterization gaussian;

        Prediction(Parameterization gaussian) {
            this.gaussian = gaussian;
        }

        /** True for a rectified flow's velocity. */
        public boolean isFlow() {
            return this == FLOW;
        }

        /**
         * The Gaussian diffusion's parameterization.
         *
         * @throws IllegalStateException for {@link #FLOW}, which is not one
         */
        public Parameterization parameterization() {
            if (gaussian == null) {
                throw new IllegalStateException("a flow model's velocity is not a Gaussian diffusion's output");
            }
            return gaussian;
        }
    }
}
