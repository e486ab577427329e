package org.tessera.engine.diffusion;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.tessera.engine.parallel.WorkerPool;
import org.tessera.engine.random.RandomStream;
import org.tessera.engine.reference.ScalarElementwise;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Tensor;

/**
 * Samplers and the bound with the exact denoiser of Gaussian data ({@link ExactGaussianModel}):
 * the distribution they produce and the bound they compute are known in closed form.
 */
class AnalyticGaussianTest {
    private static final WorkerPool POOL = new WorkerPool(1);
    private static final ScalarElementwise OPS = new ScalarElementwise();
    private static final double MU = 0.3;
    private static final double SIGMA = 0.5;

    @AfterAll
    static void close() {
        POOL.close();
    }

    private static double[] meanAndVariance(Tensor x) {
        double[] v = x.toDoubleArray();
        double sum = 0;
        double sq = 0;
        for (double e : v) {
            sum += e;
        }
        double mean = sum / v.length;
        for (double e : v) {
            sq += (e - mean) * (e - mean);
        }
        return new double[] {mean, sq / (v.length - 1)};
    }

    private static GaussianDiffusion diffusion(NoiseSchedule s, VarianceType v) {
        return new GaussianDiffusion(s, Parameterization.EPSILON, v, OPS);
    }

    @Test
    void ddimFollowsTheExactDeterministicMap() {
        // With the exact ε̂, each DDIM step maps z = (x − aμ)/s to z·(a a' σ² + b b')/(s s'), so the
        // whole run is an affine map of x_T that can be computed in double.
        NoiseSchedule s = Respacing.respace(Schedules.linear(1000), "ddim50");
        GaussianDiffusion d = diffusion(s, VarianceType.FIXED_SMALL);
        DdimSampler sampler = new DdimSampler(d, 0.0, X0Processing.none(), POOL);
        int[] shape = {2, 3, 16};
        Tensor xT = Tensor.zeros(DType.F32, shape);
        new RandomStream(11, 0).fillNormal(xT, POOL);
        Tensor x = sampler.sample(new ExactGaussianModel(s, MU, SIGMA, false), xT, null, 11, StepCallback.NONE);
        double factor = 1;
        for (int i = s.steps() - 1; i >= 0; i--) {
            double a = Math.sqrt(s.alphaBar(i));
            double b = Math.sqrt(1 - s.alphaBar(i));
            double ap = Math.sqrt(s.alphaBarPrev(i));
            double bp = Math.sqrt(1 - s.alphaBarPrev(i));
            double st = Math.sqrt(a * a * SIGMA * SIGMA + b * b);
            double sp = Math.sqrt(ap * ap * SIGMA * SIGMA + bp * bp);
            factor *= (a * ap * SIGMA * SIGMA + b * bp) / (st * sp);
        }
        int last = s.steps() - 1;
        double aT = Math.sqrt(s.alphaBar(last));
        double sT = Math.sqrt(aT * aT * SIGMA * SIGMA + 1 - s.alphaBar(last));
        float[] start = xT.toFloatArray();
        float[] got = x.toFloatArray();
        for (int i = 0; i < got.length; i++) {
            double want = MU + SIGMA * factor * (start[i] - aT * MU) / sT;
            assertEquals(want, got[i], 2e-4, "element " + i);
        }
    }

    @Test
    void ddimLandsOnTheDataDistribution() {
        NoiseSchedule s = Respacing.respace(Schedules.linear(1000), "ddim250");
        DdimSampler sampler = new DdimSampler(diffusion(s, VarianceType.FIXED_SMALL), 0.0, X0Processing.none(), POOL);
        Tensor x = sampler.sample(
                new ExactGaussianModel(s, MU, SIGMA, false), new int[] {4, 1, 2048}, null, 5, StepCallback.NONE);
        double[] mv = meanAndVariance(x);
        assertEquals(MU, mv[0], 0.02);
        assertEquals(SIGMA * SIGMA, mv[1], 0.05 * SIGMA * SIGMA);
    }

    @Test
    void ddpmWithTheExactReverseProcessSamplesTheData() {
        // With learned-range variance set to the true reverse variance the chain is exact at any spacing.
        NoiseSchedule s = Respacing.respace(Schedules.linear(1000), "50");
        DdpmSampler sampler = new DdpmSampler(diffusion(s, VarianceType.LEARNED_RANGE), X0Processing.none(), POOL);
        Tensor x = sampler.sample(
                new ExactGaussianModel(s, MU, SIGMA, true), new int[] {4, 1, 2048}, null, 6, StepCallback.NONE);
        double[] mv = meanAndVariance(x);
        assertEquals(MU, mv[0], 0.02);
        assertEquals(SIGMA * SIGMA, mv[1], 0.05 * SIGMA * SIGMA);
    }

    @Test
    void seedsReproduceRunsExactly() {
        NoiseSchedule s = Respacing.respace(Schedules.linear(1000), "ddim20");
        DenoisingModel model = new ExactGaussianModel(s, MU, SIGMA, true);
        int[] shape = {2, 2, 8};
        Sampler[] samplers = {
            new DdimSampler(diffusion(s, VarianceType.LEARNED_RANGE), 0.0, X0Processing.clip(), POOL),
            new DdimSampler(diffusion(s, VarianceType.LEARNED_RANGE), 1.0, X0Processing.clip(), POOL),
            new DdpmSampler(diffusion(s, VarianceType.LEARNED_RANGE), X0Processing.clip(), POOL)
        };
        for (Sampler sampler : samplers) {
            float[] a =
                    sampler.sample(model, shape, null, 42, StepCallback.NONE).toFloatArray();
            float[] b =
                    sampler.sample(model, shape, null, 42, StepCallback.NONE).toFloatArray();
            float[] c =
                    sampler.sample(model, shape, null, 43, StepCallback.NONE).toFloatArray();
            assertArrayEquals(a, b);
            assertFalse(Arrays.equals(a, c));
        }
        // DDIM with η = 0 draws no step noise: the same x_T gives the same sample whatever the seed.
        Tensor xT = Tensor.zeros(DType.F32, shape);
        new RandomStream(1, 0).fillNormal(xT, POOL);
        assertArrayEquals(
                samplers[0].sample(model, xT, null, 1, StepCallback.NONE).toFloatArray(),
                samplers[0].sample(model, xT, null, 2, StepCallback.NONE).toFloatArray());
    }

    @Test
    void callbackSeesEveryStepWithOriginalTimesteps() {
        NoiseSchedule s = Respacing.respace(Schedules.linear(1000), "ddim10");
        DdimSampler sampler = new DdimSampler(diffusion(s, VarianceType.FIXED_SMALL), 0.0, X0Processing.none(), POOL);
        List<Integer> timesteps = new ArrayList<>();
        List<Integer> steps = new ArrayList<>();
        sampler.sample(
                new ExactGaussianModel(s, MU, SIGMA, false),
                new int[] {1, 1, 4},
                null,
                3,
                (step, total, timestep, x, x0) -> {
                    assertEquals(10, total);
                    steps.add(step);
                    timesteps.add(timestep);
                });
        assertEquals(List.of(0, 1, 2, 3, 4, 5, 6, 7, 8, 9), steps);
        assertEquals(List.of(900, 800, 700, 600, 500, 400, 300, 200, 100, 0), timesteps);
    }

    @Test
    void nonFiniteStepStopsSampling() {
        NoiseSchedule s = Respacing.respace(Schedules.linear(1000), "ddim10");
        DenoisingModel exact = new ExactGaussianModel(s, MU, SIGMA, false);
        DenoisingModel broken = (x, t, c) -> {
            Tensor out = exact.predict(x, t, c);
            if (t.toLongArray()[0] == 600) {
                out.setFloat(Float.NaN, 0, 0, 1);
            }
            return out;
        };
        for (Sampler sampler : new Sampler[] {
            new DdimSampler(diffusion(s, VarianceType.FIXED_SMALL), 0.0, X0Processing.none(), POOL),
            new DdpmSampler(diffusion(s, VarianceType.FIXED_SMALL), X0Processing.none(), POOL)
        }) {
            SamplingException e = assertThrows(
                    SamplingException.class,
                    () -> sampler.sample(broken, new int[] {1, 1, 4}, null, 3, StepCallback.NONE));
            assertEquals(3, e.step());
            assertEquals(600, e.timestep());
            assertTrue(e.getMessage().contains("step 3") && e.getMessage().contains("timestep 600"), e.getMessage());
        }
    }

    @Test
    void boundOfTheExactModelIsTheNegativeLogLikelihood() {
        // The exact reverse process makes the bound tight: E[L] = −log q(x_0) for data binned to 8 bits,
        // i.e. per dimension (−log N(x_0; μ, σ²) + log 127.5) / ln 2, up to the tiny prior mismatch.
        // The estimate draws one x_t per step; over 16384 dimensions its noise is about 0.012 bits.
        NoiseSchedule s = Respacing.respace(Schedules.linear(1000), "20");
        GaussianDiffusion d = diffusion(s, VarianceType.LEARNED_RANGE);
        double mu = 0.1;
        double sigma = 0.25;
        Tensor x0 = Tensor.zeros(DType.F32, 4, 1, 4096);
        new RandomStream(77, 0).fillNormal(x0, POOL);
        float[] v = x0.toFloatArray();
        double nll = 0;
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) Math.clamp(mu + sigma * v[i], -0.99, 0.99);
            double z = (v[i] - mu) / sigma;
            nll += 0.5 * z * z + Math.log(sigma * Math.sqrt(2 * Math.PI)) + Math.log(127.5);
        }
        nll /= v.length * Math.log(2);
        x0 = Tensor.of(v, 4, 1, 4096);
        VariationalBound.Result r = new VariationalBound(d)
                .evaluate(
                        new ExactGaussianModel(s, mu, sigma, true),
                        x0,
                        null,
                        X0Processing.none(),
                        new RandomStream(78, 0),
                        POOL);
        double total = Arrays.stream(r.totalBpd()).average().orElseThrow();
        assertEquals(nll, total, 0.04, "bits/dim");
        assertEquals(4, r.termsBpd().length);
        assertEquals(20, r.termsBpd()[0].length);
        assertTrue(r.priorBpd()[0] < 1e-3, "prior term is small: " + r.priorBpd()[0]);
        for (int b = 0; b < 4; b++) {
            assertEquals(r.priorBpd()[b] + Arrays.stream(r.termsBpd()[b]).sum(), r.totalBpd()[b], 1e-9);
            assertTrue(r.x0Mse()[b][0] < r.x0Mse()[b][19], "x_0 is easier to predict from less noise");
            assertTrue(Double.isFinite(r.epsMse()[b][10]));
        }
    }
}
