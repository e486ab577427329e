package org.tessera.runtime.internal;

import org.tessera.dsl.ModelContract;
import org.tessera.dsl.pipeline.PipelineSettings;
import org.tessera.engine.backend.Backend;
import org.tessera.engine.diffusion.DdimSampler;
import org.tessera.engine.diffusion.DdpmSampler;
import org.tessera.engine.diffusion.GaussianDiffusion;
import org.tessera.engine.diffusion.NoiseSchedule;
import org.tessera.engine.diffusion.Respacing;
import org.tessera.engine.diffusion.Sampler;
import org.tessera.engine.diffusion.Schedules;
import org.tessera.engine.diffusion.X0Processing;

/** Builds the diffusion process and the sampler a pipeline's settings (and a request) describe. */
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
    public static GaussianDiffusion diffusion(PipelineSettings.Sampling s, String spacing, ModelContract contract,
                                              Backend host) {
        NoiseSchedule schedule = Respacing.respace(trainingSchedule(s), spacing);
        return new GaussianDiffusion(schedule, contract.prediction(), contract.variance(), host.elementwise());
    }

    /** The sampler the settings name, on {@code diffusion}, with DDIM's η. */
    public static Sampler sampler(PipelineSettings.Sampling s, double eta, GaussianDiffusion diffusion, Backend host) {
        X0Processing x0 = s.clipX0() ? X0Processing.clip() : X0Processing.none();
        return switch (s.sampler()) {
            case "ddpm" -> new DdpmSampler(diffusion, x0, host.pool());
            case "ddim" -> new DdimSampler(diffusion, eta, x0, host.pool());
            default -> throw new IllegalArgumentException("unknown sampler '" + s.sampler() + "' (ddim, ddpm)");
        };
    }
}
