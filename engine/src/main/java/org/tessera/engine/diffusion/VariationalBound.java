package org.tessera.engine.diffusion;

import java.util.Arrays;
import org.tessera.engine.parallel.WorkerPool;
import org.tessera.engine.random.RandomStream;
import org.tessera.engine.tensor.Tensor;

/**
 * The variational bound on −log p_θ(x_0) (Ho et al. 2020, eq. 5), in bits per dimension:
 *
 * <pre>
 *   L = L_prior + Σ_{t≥1} L_t + L_0
 *   L_prior = KL(q(x_{T−1} | x_0) ‖ N(0, I))
 *   L_t     = KL(q(x_{t−1} | x_t, x_0) ‖ p_θ(x_{t−1} | x_t))        for t ≥ 1
 *   L_0     = −log p_θ(x_0 | x_1), discretised to 8-bit bins of [−1, 1]
 * </pre>
 *
 * each averaged over the dimensions of a sample and divided by ln 2, as DiT's
 * {@code calc_bpd_loop} does.
 */
public final class VariationalBound {
    private static final double LN2 = Math.log(2.0);

    /** One L_t per sample, and the x̂_0 the model predicted for it. */
    public record Term(double[] bitsPerDim, Tensor predictedX0) {}

    /**
     * The bound of each sample of a batch: total and prior in bits/dim, and per step t (index
     * {@code [sample][t]}) the term L_t, the MSE of x̂_0 against x_0 and the MSE of the implied
     * ε̂ against the noise used.
     */
    public record Result(
            double[] totalBpd, double[] priorBpd, double[][] termsBpd, double[][] x0Mse, double[][] epsMse) {}

    private final GaussianDiffusion diffusion;

    public VariationalBound(GaussianDiffusion diffusion) {
        this.diffusion = diffusion;
    }

    /** L_prior per sample, in bits/dim. */
    public double[] priorBpd(Tensor x0) {
        int last = diffusion.steps() - 1;
        int[] t = fill(x0.size(0), last);
        GaussianDiffusion.Gaussian q = diffusion.qMarginal(x0, t);
        Tensor zeros = Buffers.perSample(new double[x0.size(0)], x0.shape());
        double[] kl = GaussianTerms.normalKl(q.mean(), q.logVariance(), zeros, zeros);
        return bits(Buffers.meanFlat(kl, x0.size(0)));
    }

    /** L_t per sample for a reverse step already computed at (x_t, t). */
    public Term term(GaussianDiffusion.Prediction p, Tensor x0, Tensor xt, int[] t) {
        int batch = x0.size(0);
        GaussianDiffusion.Gaussian q = diffusion.qPosterior(x0, xt, t);
        double[] kl =
                Buffers.meanFlat(GaussianTerms.normalKl(q.mean(), q.logVariance(), p.mean(), p.logVariance()), batch);
        float[] logScales = p.logVariance().toFloatArray(); // log σ = ½ log σ², exact in float
        for (int i = 0; i < logScales.length; i++) {
            logScales[i] *= 0.5f;
        }
        double[] ll = GaussianTerms.discretizedLogLikelihood(x0, p.mean(), Buffers.of(logScales, x0.shape()));
        double[] nll = Buffers.meanFlat(ll, batch);
        double[] out = new double[batch];
        for (int b = 0; b < batch; b++) {
            out[b] = (t[b] == 0 ? -nll[b] : kl[b]) / LN2;
        }
        return new Term(out, p.predictedX0());
    }

    /** L_t per sample, calling {@code model} at (x_t, t). */
    public Term term(
            DenoisingModel model, Tensor x0, Tensor xt, int[] t, Tensor conditioning, X0Processing x0Processing) {
        return term(diffusion.pMeanVariance(model, xt, t, conditioning, x0Processing), x0, xt, t);
    }

    /**
     * The whole bound over all T steps, drawing the noise for step t from stream t of
     * {@code noise}'s seed, so a seed reproduces the estimate.
     */
    public Result evaluate(
            DenoisingModel model,
            Tensor x0,
            Tensor conditioning,
            X0Processing x0Processing,
            RandomStream noise,
            WorkerPool pool) {
        int batch = x0.size(0);
        int steps = diffusion.steps();
        double[][] terms = new double[batch][steps];
        double[][] x0Mse = new double[batch][steps];
        double[][] epsMse = new double[batch][steps];
        double[] total = new double[batch];
        Tensor eps = Buffers.zeros(x0.shape());
        for (int step = steps - 1; step >= 0; step--) {
            int[] t = fill(batch, step);
            noise.withStream(step).fillNormal(eps, pool);
            Tensor xt = diffusion.qSample(x0, t, eps);
            Term term = term(model, x0, xt, t, conditioning, x0Processing);
            double[] x0Err = Losses.meanSquaredError(diffusion.ops(), term.predictedX0(), x0);
            double[] epsErr =
                    Losses.meanSquaredError(diffusion.ops(), diffusion.epsFromX0(xt, t, term.predictedX0()), eps);
            for (int b = 0; b < batch; b++) {
                terms[b][step] = term.bitsPerDim()[b];
                x0Mse[b][step] = x0Err[b];
                epsMse[b][step] = epsErr[b];
                total[b] += term.bitsPerDim()[b];
            }
        }
        double[] prior = priorBpd(x0);
        for (int b = 0; b < batch; b++) {
            total[b] += prior[b];
        }
        return new Result(total, prior, terms, x0Mse, epsMse);
    }

    private static double[] bits(double[] nats) {
        for (int i = 0; i < nats.length; i++) {
            nats[i] /= LN2;
        }
        return nats;
    }

    static int[] fill(int batch, int t) {
        int[] out = new int[batch];
        Arrays.fill(out, t);
        return out;
    }
}
