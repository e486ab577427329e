package org.tessera.engine.diffusion;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.tessera.engine.io.Goldens;
import org.tessera.engine.io.SafetensorsReader;
import org.tessera.engine.reference.ScalarElementwise;
import org.tessera.engine.tensor.Tensor;

/** Schedules, forward process and posterior against facebookresearch/DiT's own output. */
class GoldenScheduleTest {
    private static SafetensorsReader golden;

    @BeforeAll
    static void open() throws IOException {
        golden = SafetensorsReader.open(Goldens.reference()); // fails, never skips, when missing
    }

    @AfterAll
    static void close() {
        golden.close();
    }

    private static void assertRelative(double[] want, double[] got, double tol, String what) {
        assertEquals(want.length, got.length, what);
        for (int i = 0; i < want.length; i++) {
            double err = Math.abs(want[i] - got[i]);
            int at = i;
            assertTrue(
                    err <= tol * Math.abs(want[i]) || err == 0,
                    () -> what + "[" + at + "]: want " + want[at] + ", got " + got[at]);
        }
    }

    private static void assertAbsolute(Tensor want, Tensor got, double tol, String what) {
        float[] w = want.toFloatArray();
        float[] g = got.toFloatArray();
        assertEquals(w.length, g.length, what);
        for (int i = 0; i < w.length; i++) {
            assertEquals(w[i], g[i], tol, what + "[" + i + "]");
        }
    }

    private static double[] array(String name) {
        return golden.tensor(name).toDoubleArray();
    }

    /**
     * DiT builds every diffusion as a SpacedDiffusion, even with no respacing, so its βs are
     * recomputed from ᾱ: respacing to all 1000 steps reproduces that to the last bit.
     */
    private static NoiseSchedule ditLinear() {
        return Respacing.respace(Schedules.linear(1000), "1000");
    }

    @Test
    void linearScheduleArrays() {
        NoiseSchedule s = ditLinear();
        assertRelative(array("linear.betas"), s.betas(), 1e-12, "betas");
        assertRelative(array("linear.alphas_cumprod"), s.alphasCumprod(), 1e-12, "alphas_cumprod");
        assertRelative(array("linear.alphas_cumprod_prev"), s.alphasCumprodPrev(), 1e-12, "alphas_cumprod_prev");
        assertRelative(array("linear.posterior_variance"), s.posteriorVariances(), 1e-12, "posterior_variance");
        assertRelative(
                array("linear.posterior_log_variance_clipped"),
                s.posteriorLogVariancesClipped(),
                1e-12,
                "posterior_log_variance_clipped");
        assertRelative(array("linear.posterior_mean_coef1"), s.posteriorMeanCoefs1(), 1e-12, "posterior_mean_coef1");
        assertRelative(array("linear.posterior_mean_coef2"), s.posteriorMeanCoefs2(), 1e-12, "posterior_mean_coef2");
        // The plain linspace differs from the recomputed βs by rounding only.
        assertRelative(array("linear.betas"), Schedules.linear(1000).betas(), 1e-12, "plain linear betas");
    }

    @Test
    void cosineBetas() {
        assertRelative(array("cosine.betas"), Schedules.cosine(1000).betas(), 1e-12, "cosine betas");
    }

    @Test
    void forwardSampleAndPosterior() {
        GaussianDiffusion d = new GaussianDiffusion(
                ditLinear(), Parameterization.EPSILON, VarianceType.LEARNED_RANGE, new ScalarElementwise());
        Tensor x0 = golden.tensor("q.x0");
        long[] tl = golden.tensor("q.t").toLongArray();
        int[] t = {(int) tl[0], (int) tl[1]};
        Tensor xt = d.qSample(x0, t, golden.tensor("q.noise"));
        assertAbsolute(golden.tensor("q.xt"), xt, 1e-5, "q.xt");

        GaussianDiffusion.Gaussian post = d.qPosterior(x0, golden.tensor("q.xt"), t);
        assertAbsolute(golden.tensor("posterior.mean"), post.mean(), 1e-5, "posterior.mean");
        assertAbsolute(golden.tensor("posterior.variance"), post.variance(), 1e-5, "posterior.variance");
        assertAbsolute(golden.tensor("posterior.log_variance"), post.logVariance(), 1e-5, "posterior.log_variance");
    }
}
