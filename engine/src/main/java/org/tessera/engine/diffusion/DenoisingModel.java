package org.tessera.engine.diffusion;

import org.tessera.engine.tensor.Tensor;

/**
 * A denoiser: any function of the noisy batch, its timesteps and its conditioning. Samplers and
 * losses only call it, so a network, an analytic model or a guidance wrapper all fit.
 *
 * <p>The buffer contract, which lets a sampling loop run without allocating:
 * <ul>
 *   <li>The returned tensor may be one the model owns and reuses (e.g. a view of an executor's
 *       output buffer, or {@link ClassifierFreeGuidance}'s guided buffer). It is then valid only
 *       until the model's next call. Callers read it, or copy it, before calling the model again,
 *       and never write into it. The samplers, {@link GaussianDiffusion}, {@link Losses} and
 *       {@link VariationalBound} all do so.
 *   <li>The arguments belong to the caller and are valid only during the call: the model must
 *       not modify them or keep them after it returns (a sampler overwrites x_t and the
 *       timesteps in place for its next step).
 * </ul>
 */
@FunctionalInterface
public interface DenoisingModel {
    /**
     * @param xt the noisy batch, F32 [B, C, …]
     * @param timesteps I64 [B]: the timesteps of the original (unspaced) process
     * @param conditioning whatever the model is conditioned on (e.g. I64 class labels [B]), or null
     * @return F32 [B, C', …] with C' = C, or 2C for {@link VarianceType#LEARNED_RANGE}; possibly
     *     a buffer of the model's, valid until its next call
     */
    Tensor predict(Tensor xt, Tensor timesteps, Tensor conditioning);
}
