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
 *     null_label = num_classes       # the label that means "no class", for guidance (optional)
 *     condition  = low               # further inputs given as they are at every step (optional; a name or a list)
 *     predicts   = "eps"             # "eps", "x0", "v", or "flow" (a rectified flow's velocity): the first C output channels
 *     variance   = "learned_range"   # "fixed_small", "fixed_large" or "learned_range" (C more channels)
 *     split_axis = 1                 # the axis that holds those channels, and that guidance splits
 * }
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
 */
public record ModelContract(
        String latent,
        String timestep,
        String label,
        Long nullLabel,
        List<String> conditions,
        Prediction prediction,
        VarianceType variance,
        int splitAxis) {
    public ModelContract {
        conditions = List.copyOf(conditions);
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
