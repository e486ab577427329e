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
 *     predicts   = "eps"             # "eps", "x0" or "v": what the first C output channels are
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
public record ModelContract(String latent, String timestep, String label, Long nullLabel, List<String> conditions,
                            Parameterization prediction, VarianceType variance, int splitAxis) {
    public ModelContract {
        conditions = List.copyOf(conditions);
    }
}
