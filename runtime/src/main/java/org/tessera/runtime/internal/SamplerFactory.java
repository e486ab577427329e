package org.tessera.runtime.internal;

import org.tessera.dsl.ModelContract;
import org.tessera.dsl.pipeline.PipelineSettings;
import org.tessera.engine.backend.Backend;
import org.tessera.engine.diffusion.GaussianDiffusion;
import org.tessera.engine.diffusion.NoiseSchedule;
import org.tessera.engine.diffusion.Respacing;
import org.tessera.engine.diffusion.Schedules;

/** Builds the diffusion process a pipeline's settings (and a request) describe. */
public final class SamplerFactory {
    private SamplerFactory() {}

    /** The training process: the named schedule over all its T steps. */
    public static NoiseSchedule trainingSchedule(PipelineSettings.Sampling s) {
        return Schedules.named(s.schedule(), s.scheduleSteps());
    }

    /**
     * The process to sample on: the training schedule respaced to {@code spacing} ({@code "N"},
     * {@code "ddimN"} or section counts such as {@code "10,15,20"}, as DiT's {@code respace.py}).
     *
     * @param contract what the model predicts and how its variance is chosen (DiT: learned with
     *     {@code learn_sigma}, else β_t, {@code FIXED_LARGE}, as its {@code create_diffusion} does
     *     with {@code sigma_small} off)
     */
    public static GaussianDiffusion diffusion(
            PipelineSettings.Sampling s, String spacing, ModelContract contract, Backend host) {
        NoiseSchedule schedule = Respacing.respace(trainingSchedule(s), spacing);
        return new GaussianDiffusion(
                schedule, contract.prediction().parameterization(), contract.variance(), host.elementwise());
    }
}
