package org.tessera.engine.diffusion;

import org.tessera.engine.tensor.Tensor;

/**
 * A denoiser: any function of the noisy batch, its timesteps and its conditioning. Samplers and
 * losses only call it, so a network, an analytic model or a guidance wrapper all fit.
 */
@FunctionalInterface
public interface DenoisingModel {
    /**
     * @param xt the noisy batch, F32 [B, C, …]
     * @param timesteps I64 [B]: the timesteps of the original (unspaced) process
     * @param conditioning whatever the model is conditioned on (e.g. I64 class labels [B]), or null
     * @return F32 [B, C', …] with C' = C, or 2C for {@link VarianceType#LEARNED_RANGE}
     */
    Tensor predict(Tensor xt, Tensor timesteps, Tensor conditioning);
}
