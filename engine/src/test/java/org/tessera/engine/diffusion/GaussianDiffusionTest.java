package org.tessera.engine.diffusion;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.tessera.engine.parallel.WorkerPool;
import org.tessera.engine.random.RandomStream;
import org.tessera.engine.reference.ScalarElementwise;
import org.tessera.engine.tensor.ShapeMismatchException;
import org.tessera.engine.tensor.Tensor;

class GaussianDiffusionTest {
    private static final WorkerPool POOL = new WorkerPool(1);
    private static final ScalarElementwise OPS = new ScalarElementwise();
    private static final NoiseSchedule LINEAR = Schedules.linear(1000);

    @AfterAll
    static void close() {
        POOL.close();
    }

    private static Tensor normal(long seed, int... shape) {
        Tensor t = Tensor.zeros(org.tessera.engine.tensor.DType.F32, shape);
        new RandomStream(seed, 0).fillNormal(t, POOL);
        return t;
    }

    private static void assertClose(Tensor want, Tensor got, double tol) {
        assertArrayEquals(want.shape(), got.shape());
        float[] w = want.toFloatArray();
        float[] g = got.toFloatArray();
        for (int i = 0; i < w.length; i++) {
            assertEquals(w[i], g[i], tol, "element " + i);
        }
    }

    private static GaussianDiffusion diffusion(Parameterization p, VarianceType v) {
        return new GaussianDiffusion(LINEAR, p, v, OPS);
    }

    @Test
    void klOfIdenticalGaussiansIsZeroAndKnownValue() {
        Tensor m = normal(1, 2, 3, 4);
        Tensor lv = normal(2, 2, 3, 4);
        for (double kl : GaussianTerms.normalKl(m, lv, m, lv)) {
            assertEquals(0.0, kl, 1e-12);
        }
        // KL(N(0, 1) ‖ N(1, 4)) = log 2 + (1 + 1)/8 − 1/2.
        assertEquals(Math.log(2) + 0.25 - 0.5, GaussianTerms.normalKl(0, 0, 1, Math.log(4)), 1e-15);
    }

    @Test
    void discretizedLikelihood() {
        // A wide Gaussian: the bin's mass is about density × bin width.
        double x = 0.3;
        double logScale = Math.log(0.5);
        double density = Math.exp(-0.5 * (x / 0.5) * (x / 0.5)) / (0.5 * Math.sqrt(2 * Math.PI));
        assertEquals(Math.log(density * 2 / 255), GaussianTerms.discretizedLogLikelihood(x, 0, logScale), 2e-3);
        // Edge bins extend to infinity: all mass below −1 + 1/255 when the mean sits at −1 with a tiny scale.
        assertEquals(0.0, GaussianTerms.discretizedLogLikelihood(-1, -1.2, Math.log(1e-3)), 1e-9);
        assertEquals(0.0, GaussianTerms.discretizedLogLikelihood(1, 1.2, Math.log(1e-3)), 1e-9);
        // An empty bin is floored, not −∞.
        assertEquals(Math.log(1e-12), GaussianTerms.discretizedLogLikelihood(0, 0.9, Math.log(1e-3)), 1e-9);
        assertEquals(0.5, GaussianTerms.approxStandardNormalCdf(0), 0);
    }

    @Test
    void forwardProcess() {
        GaussianDiffusion d = diffusion(Parameterization.EPSILON, VarianceType.FIXED_SMALL);
        Tensor x = normal(3, 2, 3, 5);
        int[] t = {0, 700};
        GaussianDiffusion.Gaussian step = d.qStep(x, t);
        assertEquals(
                (float) (Math.sqrt(1 - LINEAR.beta(700)) * x.getFloat(1, 2, 4)),
                step.mean().getFloat(1, 2, 4),
                1e-6);
        assertEquals((float) LINEAR.beta(0), step.variance().getFloat(0, 1, 1), 0);
        GaussianDiffusion.Gaussian q = d.qMarginal(x, t);
        assertEquals((float) (1 - LINEAR.alphaBar(700)), q.variance().getFloat(1, 0, 0), 1e-7);
        assertEquals((float) Math.log(1 - LINEAR.alphaBar(700)), q.logVariance().getFloat(1, 2, 2), 1e-6);
        Tensor eps = normal(4, 2, 3, 5);
        Tensor xt = d.qSample(x, t, eps);
        assertClose(x, d.x0FromEps(xt, t, eps), 1e-4);
        assertClose(eps, d.epsFromX0(xt, t, x), 1e-4);
        assertClose(x, d.x0FromV(xt, t, d.velocity(x, t, eps)), 1e-5);
    }

    @Test
    void varianceTypes() {
        Tensor xt = normal(5, 2, 2, 3);
        int[] t = {0, 500};
        Tensor eps = normal(6, 2, 2, 3);
        GaussianDiffusion.Prediction small = diffusion(Parameterization.EPSILON, VarianceType.FIXED_SMALL)
                .pMeanVariance(eps, xt, t, X0Processing.none());
        assertEquals(
                (float) LINEAR.posteriorLogVarianceClipped(0),
                small.logVariance().getFloat(0, 1, 2),
                0);
        assertEquals((float) LINEAR.posteriorVariance(500), small.variance().getFloat(1, 0, 0), 0);
        GaussianDiffusion.Prediction large = diffusion(Parameterization.EPSILON, VarianceType.FIXED_LARGE)
                .pMeanVariance(eps, xt, t, X0Processing.none());
        assertEquals(
                (float) Math.log(LINEAR.posteriorVariance(1)),
                large.logVariance().getFloat(0, 0, 0),
                1e-6);
        assertEquals((float) Math.log(LINEAR.beta(500)), large.logVariance().getFloat(1, 1, 1), 1e-6);

        // Learned range: v = −1 gives the clipped posterior log variance, v = +1 gives log β_t, v = 0 the midpoint.
        float[] out = new float[2 * 4 * 3];
        float[] e = eps.toFloatArray();
        for (int b = 0; b < 2; b++) {
            for (int k = 0; k < 6; k++) {
                out[b * 12 + k] = e[b * 6 + k];
                out[b * 12 + 6 + k] = k < 3 ? -1 : (k < 5 ? 1 : 0);
            }
        }
        GaussianDiffusion.Prediction learned = diffusion(Parameterization.EPSILON, VarianceType.LEARNED_RANGE)
                .pMeanVariance(Tensor.of(out, 2, 4, 3), xt, t, X0Processing.none());
        for (int b = 0; b < 2; b++) {
            double min = LINEAR.posteriorLogVarianceClipped(t[b]);
            double max = Math.log(LINEAR.beta(t[b]));
            assertEquals(min, learned.logVariance().getFloat(b, 0, 1), 1e-5);
            assertEquals(max, learned.logVariance().getFloat(b, 1, 0), 1e-5);
            assertEquals((min + max) / 2, learned.logVariance().getFloat(b, 1, 2), 1e-5);
            assertEquals(Math.exp((min + max) / 2), learned.variance().getFloat(b, 1, 2), 1e-6);
        }
        assertClose(small.mean(), learned.mean(), 0);
    }

    @Test
    void posteriorMeanAtTheModelsX0() {
        GaussianDiffusion d = diffusion(Parameterization.X0, VarianceType.FIXED_SMALL);
        Tensor x0 = normal(7, 2, 3, 4);
        Tensor xt = normal(8, 2, 3, 4);
        int[] t = {10, 900};
        GaussianDiffusion.Prediction p = d.pMeanVariance((a, ts, c) -> x0, xt, t, null, X0Processing.none());
        assertClose(x0, p.predictedX0(), 0);
        assertClose(d.qPosterior(x0, xt, t).mean(), p.mean(), 0);
        assertArrayEquals(new long[] {10, 900}, d.modelTimesteps(t).toLongArray());
    }

    @Test
    void clippingAndDynamicThresholding() {
        GaussianDiffusion d = diffusion(Parameterization.X0, VarianceType.FIXED_SMALL);
        Tensor out = Tensor.of(new float[] {-3, -0.5f, 0.25f, 2}, 1, 4);
        GaussianDiffusion.Prediction p = d.pMeanVariance(out, normal(9, 1, 4), new int[] {5}, X0Processing.clip());
        assertArrayEquals(new float[] {-1, -0.5f, 0.25f, 1}, p.predictedX0().toFloatArray());
        assertArrayEquals(new float[] {-3, -0.5f, 0.25f, 2}, out.toFloatArray(), "the model's output is not modified");

        // |x| = 3, 0.5, 0.25, 2: the 0.5 quantile interpolates 0.5 and 2 to 1.25, so x is clamped to ±1.25 and divided.
        Tensor x0 = Tensor.of(new float[] {-3, -0.5f, 0.25f, 2, 0.1f, 0.2f, -0.3f, 0.4f}, 2, 4);
        X0Processing.dynamicThreshold(0.5, 10).apply(x0);
        assertArrayEquals(new float[] {-1, -0.4f, 0.2f, 1, 0.1f, 0.2f, -0.3f, 0.4f}, x0.toFloatArray(), 1e-6f);
        Tensor capped = Tensor.of(new float[] {-30, 20}, 1, 2);
        X0Processing.dynamicThreshold(1.0, 4).apply(capped);
        assertArrayEquals(new float[] {-1, 1}, capped.toFloatArray());
        assertThrows(IllegalArgumentException.class, () -> X0Processing.dynamicThreshold(1.5, 2));
    }

    @Test
    void wrongOutputChannelsAreNamed() {
        GaussianDiffusion d = diffusion(Parameterization.EPSILON, VarianceType.LEARNED_RANGE);
        Tensor xt = normal(10, 2, 4, 3);
        ShapeMismatchException e = assertThrows(
                ShapeMismatchException.class,
                () -> d.pMeanVariance((x, t, c) -> x, xt, new int[] {1, 2}, null, X0Processing.none()));
        for (String part : new String[] {"LEARNED_RANGE", "4 channels", "needs 8", "4 input channels"}) {
            assertTrue(e.getMessage().contains(part), e.getMessage());
        }
        GaussianDiffusion fixed = diffusion(Parameterization.EPSILON, VarianceType.FIXED_SMALL);
        Tensor eight = normal(11, 2, 8, 3);
        e = assertThrows(
                ShapeMismatchException.class,
                () -> fixed.pMeanVariance(eight, xt, new int[] {1, 2}, X0Processing.none()));
        assertTrue(e.getMessage().contains("FIXED_SMALL") && e.getMessage().contains("8 channels"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> fixed.qSample(xt, new int[] {1, 1000}, xt));
        assertThrows(ShapeMismatchException.class, () -> fixed.qSample(xt, new int[] {1}, xt));
    }
}
