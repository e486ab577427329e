package org.tessera.engine.graph;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.tessera.engine.graph.GraphTesting.inputs;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.tessera.engine.diffusion.GaussianDiffusion;
import org.tessera.engine.diffusion.GaussianTerms;
import org.tessera.engine.diffusion.Losses;
import org.tessera.engine.diffusion.NoiseSchedule;
import org.tessera.engine.diffusion.Parameterization;
import org.tessera.engine.diffusion.Schedules;
import org.tessera.engine.diffusion.VarianceType;
import org.tessera.engine.random.RandomStream;
import org.tessera.engine.reference.ScalarElementwise;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Tensor;

/**
 * The hybrid loss's bound term as a graph op: its value is the diffusion core's (the one the DiT
 * goldens check), and its gradient by the variance channels matches finite differences in double,
 * on steps t = 0 (the discretised decoder, edge bins included) and t > 0 (the KL).
 */
class VariationalBoundOpsTest {
    private static final NoiseSchedule SCHEDULE = Schedules.linear(1000);
    private static final int[] STEPS = {0, 1, 500, 999};

    /** x₀ with the edge bins' values −1 and 1 among random ones; a model output [B, 2C, H, W]. */
    private static Tensor[] data() {
        Tensor x0 = Tensor.zeros(DType.F32, 4, 2, 3, 3);
        new RandomStream(5, 0).fillNormal(x0, GraphTesting.POOL);
        float[] v = x0.toFloatArray();
        for (int i = 0; i < v.length; i++) {
            v[i] = i % 5 == 0 ? -1f : i % 5 == 1 ? 1f : Math.max(-1f, Math.min(1f, v[i] * 0.5f));
        }
        Tensor noise = Tensor.zeros(DType.F32, 4, 2, 3, 3);
        new RandomStream(5, 1).fillNormal(noise, GraphTesting.POOL);
        Tensor out = Tensor.zeros(DType.F32, 4, 4, 3, 3);
        new RandomStream(5, 2).fillNormal(out, GraphTesting.POOL);
        return new Tensor[] {Tensor.of(v, 4, 2, 3, 3), noise, out};
    }

    private static Value term(GraphBuilder g, Value v, Tensor eps, Tensor xt, Tensor x0, float scale) {
        Tensor coefficients = Tensor.zeros(DType.F32, 4, VariationalBoundOps.COLUMNS);
        VariationalBoundOps.fillCoefficients(SCHEDULE, STEPS, coefficients);
        return g.apply(
                new VariationalBoundOps.VlbTerm(scale),
                List.of(
                        v,
                        g.constant("eps", eps),
                        g.constant("xt", xt),
                        g.constant("x0", x0),
                        g.constant("coefficients", coefficients)));
    }

    @Test
    void itsValueIsTheDiffusionCoresBoundTerm() {
        Tensor[] d = data();
        Tensor x0 = d[0];
        Tensor noise = d[1];
        Tensor out = d[2];
        GaussianDiffusion diffusion = new GaussianDiffusion(
                SCHEDULE, Parameterization.EPSILON, VarianceType.LEARNED_RANGE, new ScalarElementwise());
        Losses.Terms expected = new Losses(diffusion).trainingLoss((x, ts, c) -> out, x0, STEPS, noise, null);
        Tensor xt = diffusion.qSample(x0, STEPS, noise);
        GraphBuilder g = new GraphBuilder();
        Value v = g.input("v", DType.F32, 4, 2, 3, 3);
        g.output("y", term(g, v, out.slice(1, 0, 2).contiguous(), xt, x0, 1f));
        Tensor got = GraphTesting.runY(g, inputs("v", out.slice(1, 2, 4).contiguous()));
        for (int b = 0; b < 4; b++) {
            assertEquals(
                    expected.vlb()[b],
                    got.getFloat(b),
                    2e-5 * Math.max(1, Math.abs(expected.vlb()[b])),
                    "t = " + STEPS[b]);
        }
    }

    @Test
    void itsGradientMatchesFiniteDifferencesOfTheVarianceChannels() {
        Tensor[] d = data();
        GaussianDiffusion diffusion = new GaussianDiffusion(
                SCHEDULE, Parameterization.EPSILON, VarianceType.LEARNED_RANGE, new ScalarElementwise());
        Tensor xt = diffusion.qSample(d[0], STEPS, d[1]);
        Tensor eps = d[2].slice(1, 0, 2).contiguous();
        Tensor v = d[2].slice(1, 2, 4).contiguous();
        Tensor weights = Tensor.zeros(DType.F32, 4);
        new RandomStream(5, 3).fillNormal(weights, GraphTesting.POOL);

        GraphBuilder g = new GraphBuilder();
        Value vIn = g.input("v", DType.F32, 4, 2, 3, 3);
        Value loss = g.apply(
                new GradientOps.SumTo(new int[] {1}),
                List.of(g.mul(term(g, vIn, eps, xt, d[0], 0.7f), g.constant("w", weights))));
        g.output("loss", loss);
        Map<String, Tensor> r = GraphTesting.run(
                Autodiff.differentiate(g.build(), "loss", List.of("v")), Planner.Options.DEFAULT, inputs("v", v));
        float[] grad = r.get(Autodiff.GRAD + "v").toFloatArray();

        // The same function in double, element by element, for central differences.
        Tensor coefficients = Tensor.zeros(DType.F32, 4, VariationalBoundOps.COLUMNS);
        VariationalBoundOps.fillCoefficients(SCHEDULE, STEPS, coefficients);
        float[] c = coefficients.toFloatArray();
        float[] vv = v.toFloatArray();
        float[] ev = eps.toFloatArray();
        float[] xv = xt.toFloatArray();
        float[] x0v = d[0].toFloatArray();
        float[] w = weights.toFloatArray();
        int per = 18;
        double h = 1e-4;
        for (int i = 0; i < vv.length; i++) {
            int b = i / per;
            int k = b * VariationalBoundOps.COLUMNS;
            double x0Hat = c[k + VariationalBoundOps.A] * xv[i] - c[k + VariationalBoundOps.B] * ev[i];
            double meanModel = c[k + VariationalBoundOps.C1] * x0Hat + c[k + VariationalBoundOps.C2] * xv[i];
            double meanTrue = c[k + VariationalBoundOps.C1] * x0v[i] + c[k + VariationalBoundOps.C2] * xv[i];
            double minLog = c[k + VariationalBoundOps.MIN_LOG];
            double maxLog = c[k + VariationalBoundOps.MAX_LOG];
            double[] at = new double[2];
            for (int s = 0; s < 2; s++) {
                double frac = (vv[i] + (s == 0 ? h : -h) + 1) / 2;
                double logVar = frac * maxLog + (1 - frac) * minLog;
                at[s] = STEPS[b] == 0
                        ? -GaussianTerms.discretizedLogLikelihood(x0v[i], meanModel, 0.5 * logVar)
                        : GaussianTerms.normalKl(meanTrue, minLog, meanModel, logVar);
            }
            double expected = w[b] * 0.7 / per / Math.log(2) * (at[0] - at[1]) / (2 * h);
            assertEquals(
                    expected, grad[i], 1e-4 * Math.max(1, Math.abs(expected)), "element " + i + ", t = " + STEPS[b]);
        }
    }

    @Test
    void theTermsDerivativesAreTheirFiniteDifferences() {
        // h large enough that the far tails, where P is a difference of two numbers near 1, stay exact
        double h = 1e-4;
        for (double x : new double[] {-1, -0.5, 0, 0.3, 1}) {
            for (double mean : new double[] {-1.2, -0.2, 0.1, 0.9}) {
                for (double logScale : new double[] {-4, -1.5, 0, 0.7}) {
                    double fd = (GaussianTerms.discretizedLogLikelihood(x, mean, logScale + h)
                                    - GaussianTerms.discretizedLogLikelihood(x, mean, logScale - h))
                            / (2 * h);
                    assertEquals(
                            fd,
                            GaussianTerms.discretizedLogLikelihoodByLogScale(x, mean, logScale),
                            1e-4 * Math.max(1, Math.abs(fd)),
                            "x " + x + ", mean " + mean + ", log scale " + logScale);
                    double kl = (GaussianTerms.normalKl(x, -2, mean, logScale + h)
                                    - GaussianTerms.normalKl(x, -2, mean, logScale - h))
                            / (2 * h);
                    assertEquals(
                            kl,
                            GaussianTerms.normalKlByLogVar2(x, -2, mean, logScale),
                            1e-5 * Math.max(1, Math.abs(kl)));
                }
            }
        }
    }
}
