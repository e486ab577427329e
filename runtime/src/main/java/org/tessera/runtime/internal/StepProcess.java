package org.tessera.runtime.internal;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.tessera.dsl.StepValues;
import org.tessera.engine.backend.Backend;
import org.tessera.engine.diffusion.DenoisingModel;
import org.tessera.engine.diffusion.FlowSchedule;
import org.tessera.engine.diffusion.GaussianDiffusion;
import org.tessera.engine.diffusion.NoiseSchedule;
import org.tessera.engine.diffusion.X0Processing;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Tensor;

/**
 * The process a sampler written in the language steps through: for step i (0 = the noisiest) its
 * values, the model's call, and the quantities the step takes. A Gaussian diffusion and a
 * rectified flow are the two kinds.
 */
sealed interface StepProcess {
    /** The number of steps. */
    int steps();

    /** The values of step i, as the sampler sees them. */
    StepValues values(int i);

    /** The timestep of step i for messages and results (σ·T rounded on a flow). */
    int timestep(int i);

    /** The dtype of the model's timestep input. */
    DType timestepType();

    /** Writes step i's timestep into every row of {@code timesteps} and runs the model. */
    Tensor modelOutput(DenoisingModel model, Tensor x, int i, Tensor conditioning, Tensor timesteps);

    /**
     * Computes the quantities of {@code needs} other than x, output, noise and prev_x0 into
     * {@code q}: x̂₀ always (the callback shows it), and ε̂, the posterior mean, the variance as
     * asked.
     */
    void quantities(Tensor output, Tensor x, int i, List<String> needs, Map<String, Tensor> q);

    /**
     * x₀ noised to the state of step i (where img2img starts): √ᾱ·x₀ + √(1 − ᾱ)·ε for a
     * diffusion, (1 − σ)·x₀ + σ·ε for a flow.
     */
    void noise(Tensor x0, Tensor noise, int i, Tensor out);

    /** A Gaussian diffusion (DDPM's process, respaced); step i is index k = steps − 1 − i. */
    final class Diffusion implements StepProcess {
        private final GaussianDiffusion diffusion;
        private final X0Processing x0Processing;
        /** The step index of every row, reused while the batch stays. */
        private int[] t = new int[0];

        Diffusion(GaussianDiffusion diffusion, X0Processing x0Processing) {
            this.diffusion = diffusion;
            this.x0Processing = x0Processing;
        }

        @Override
        public int steps() {
            return diffusion.steps();
        }

        private int k(int i) {
            return diffusion.steps() - 1 - i;
        }

        @Override
        public StepValues values(int i) {
            NoiseSchedule s = diffusion.schedule();
            int k = k(i);
            double before = k + 1 < s.steps() ? s.alphaBar(k + 1) : s.alphaBar(k);
            return StepValues.diffusion(
                    s.alphaBar(k),
                    s.alphaBarPrev(k),
                    before,
                    s.beta(k),
                    s.posteriorVariance(k),
                    s.posteriorLogVarianceClipped(k),
                    s.modelTimestep(k),
                    i,
                    steps());
        }

        @Override
        public int timestep(int i) {
            return diffusion.schedule().modelTimestep(k(i));
        }

        @Override
        public DType timestepType() {
            return DType.I64;
        }

        private int[] rows(int rows, int i) {
            if (t.length != rows) {
                t = new int[rows];
            }
            Arrays.fill(t, k(i));
            return t;
        }

        @Override
        public Tensor modelOutput(DenoisingModel model, Tensor x, int i, Tensor conditioning, Tensor timesteps) {
            return diffusion.modelOutput(model, x, rows(x.size(0), i), conditioning, timesteps);
        }

        @Override
        public void noise(Tensor x0, Tensor noise, int i, Tensor out) {
            diffusion.qSampleInto(x0, rows(x0.size(0), i), noise, out);
        }

        @Override
        public void quantities(Tensor output, Tensor x, int i, List<String> needs, Map<String, Tensor> q) {
            int[] rows = rows(x.size(0), i);
            boolean variance = needs.contains("log_variance") || needs.contains("std");
            diffusion.pMeanVarianceInto(
                    output,
                    x,
                    rows,
                    x0Processing,
                    q.get("x0"),
                    needs.contains("mean") ? q.get("mean") : null,
                    variance ? q.get("log_variance") : null);
            if (needs.contains("eps")) {
                diffusion.epsFromX0Into(x, rows, q.get("x0"), q.get("eps"));
            }
            if (needs.contains("std")) {
                diffusion.stdInto(q.get("log_variance"), q.get("std"));
            }
        }
    }

    /**
     * A rectified flow: x_σ = (1 − σ) x₀ + σ ε and a model that predicts v = ε − x₀, so
     * x̂₀ = x − σ v and ε̂ = x + (1 − σ) v. It has no posterior mean or variance.
     */
    record Flow(FlowSchedule schedule, Backend host, int trainSteps) implements StepProcess {
        @Override
        public int steps() {
            return schedule.steps();
        }

        @Override
        public StepValues values(int i) {
            return StepValues.flow(schedule.sigma(i), schedule.sigmaNext(i), schedule.modelTimestep(i), i, steps());
        }

        @Override
        public int timestep(int i) {
            return (int) Math.round(schedule.modelTimestep(i));
        }

        @Override
        public DType timestepType() {
            return DType.F32;
        }

        @Override
        public Tensor modelOutput(DenoisingModel model, Tensor x, int i, Tensor conditioning, Tensor timesteps) {
            float t = (float) schedule.modelTimestep(i);
            for (int b = 0; b < timesteps.size(0); b++) {
                timesteps.setFloat(t, b);
            }
            return model.predict(x, timesteps, conditioning);
        }

        @Override
        public void noise(Tensor x0, Tensor noise, int i, Tensor out) {
            float sigma = (float) schedule.sigma(i);
            host.elementwise().axpby(1f - sigma, x0, sigma, noise, out);
        }

        @Override
        public void quantities(Tensor output, Tensor x, int i, List<String> needs, Map<String, Tensor> q) {
            for (String n : needs) {
                if (n.equals("mean") || n.equals("log_variance") || n.equals("std")) {
                    throw new IllegalArgumentException("the sampler takes '" + n + "', which a rectified flow does not"
                            + " define (it has x, output, x0, eps, noise and prev_x0)");
                }
            }
            Tensor v = output.size(1) == x.size(1) ? output : output.slice(1, 0, x.size(1));
            float sigma = (float) schedule.sigma(i);
            host.elementwise().axpby(1f, x, -sigma, v, q.get("x0"));
            if (needs.contains("eps")) {
                host.elementwise().axpby(1f, x, 1f - sigma, v, q.get("eps"));
            }
        }
    }
}
