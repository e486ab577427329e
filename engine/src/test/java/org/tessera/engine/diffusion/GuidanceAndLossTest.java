package org.tessera.engine.diffusion;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.lang.foreign.Arena;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.tessera.engine.parallel.WorkerPool;
import org.tessera.engine.random.RandomStream;
import org.tessera.engine.reference.ScalarElementwise;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Tensor;

class GuidanceAndLossTest {
    private static final WorkerPool POOL = new WorkerPool(1);
    private static final ScalarElementwise OPS = new ScalarElementwise();

    @AfterAll
    static void close() {
        POOL.close();
    }

    /** Output channel c of sample b is label_b + 10·c + x[b, 0, 0]; 8 channels for 4 inputs (learned sigma). */
    private static final DenoisingModel LABEL_MODEL = (x, t, y) -> {
        int batch = x.size(0);
        long[] labels = y.toLongArray();
        float[] out = new float[batch * 8 * 2];
        for (int b = 0; b < batch; b++) {
            for (int c = 0; c < 8; c++) {
                for (int p = 0; p < 2; p++) {
                    out[(b * 8 + c) * 2 + p] = labels[b] + 10 * c + x.getFloat(b, 0, 0);
                }
            }
        }
        return Tensor.of(out, batch, 8, 2);
    };

    @Test
    void guidanceStandardAndDitVariant() {
        Tensor x = Tensor.of(new float[16], 2, 4, 2);
        x.setFloat(0.5f, 1, 0, 0);
        Tensor labels = Tensor.ofLongs(Arena.ofAuto(), new long[] {3, 7}, 2);
        Tensor nullLabel = Tensor.ofLongs(Arena.ofAuto(), new long[] {1000}, 1);
        Tensor t = Tensor.ofLongs(Arena.ofAuto(), new long[] {5, 5}, 2);
        double s = 4.0;
        Tensor standard = new ClassifierFreeGuidance(
                        LABEL_MODEL, s, nullLabel, ClassifierFreeGuidance.Channels.EPSILON, OPS)
                .predict(x, t, labels);
        Tensor dit = new ClassifierFreeGuidance(
                        LABEL_MODEL, s, nullLabel, ClassifierFreeGuidance.Channels.DIT_FIRST_THREE, OPS)
                .predict(x, t, labels);
        assertArrayEquals(new int[] {2, 8, 2}, standard.shape());
        for (int b = 0; b < 2; b++) {
            double label = b == 0 ? 3 : 7;
            double shift = b == 0 ? 0 : 0.5;
            for (int c = 0; c < 8; c++) {
                double cond = label + 10 * c + shift;
                double uncond = 1000 + 10 * c + shift;
                double guided = uncond + s * (cond - uncond);
                assertEquals(c < 4 ? guided : cond, standard.getFloat(b, c, 1), 1e-3, "standard b" + b + " c" + c);
                assertEquals(c < 3 ? guided : cond, dit.getFloat(b, c, 0), 1e-3, "DiT b" + b + " c" + c);
            }
        }
    }

    /**
     * Latte's forward_with_cfg on the video layout [B, F, C, H, W]: the first four channels of
     * axis 2 are guided in every frame whatever the model's channel count (here 3 ε channels and
     * the first of the variance's), the rest come from the conditional half.
     */
    @Test
    void latteGuidesTheFirstFourChannelsOfEveryFrame() {
        int frames = 3;
        DenoisingModel video = (x, t, y) -> {
            int batch = x.size(0);
            long[] labels = y.toLongArray();
            float[] out = new float[batch * frames * 6 * 2];
            for (int b = 0; b < batch; b++) {
                for (int f = 0; f < frames; f++) {
                    for (int c = 0; c < 6; c++) {
                        for (int p = 0; p < 2; p++) {
                            out[((b * frames + f) * 6 + c) * 2 + p] = labels[b] + 10 * c + 100 * f;
                        }
                    }
                }
            }
            return Tensor.of(out, batch, frames, 6, 2);
        };
        Tensor x = Tensor.zeros(DType.F32, 2, frames, 3, 2); // 3 channels: a model of 6 output channels
        Tensor labels = Tensor.ofLongs(Arena.ofAuto(), new long[] {3, 7}, 2);
        Tensor nullLabel = Tensor.ofLongs(Arena.ofAuto(), new long[] {1000}, 1);
        Tensor t = Tensor.ofLongs(Arena.ofAuto(), new long[] {5, 5}, 2);
        double s = 2.5;
        Tensor latte = new ClassifierFreeGuidance(
                        video, s, nullLabel, ClassifierFreeGuidance.Channels.LATTE_FIRST_FOUR, 2, OPS)
                .predict(x, t, labels);
        assertArrayEquals(new int[] {2, frames, 6, 2}, latte.shape());
        for (int b = 0; b < 2; b++) {
            for (int f = 0; f < frames; f++) {
                for (int c = 0; c < 6; c++) {
                    double cond = (b == 0 ? 3 : 7) + 10 * c + 100 * f;
                    double uncond = 1000 + 10 * c + 100 * f;
                    double expected = c < 4 ? uncond + s * (cond - uncond) : cond;
                    assertEquals(expected, latte.getFloat(b, f, c, 1), 1e-3, "b" + b + " f" + f + " c" + c);
                }
            }
        }
    }

    @Test
    void simpleLossTargets() {
        NoiseSchedule sch = Schedules.linear(100, 1e-4, 0.02);
        Tensor x0 = Tensor.zeros(DType.F32, 2, 3, 4);
        Tensor noise = Tensor.zeros(DType.F32, 2, 3, 4);
        new RandomStream(1, 0).fillNormal(x0, POOL);
        new RandomStream(1, 1).fillNormal(noise, POOL);
        int[] t = {10, 90};
        for (Parameterization p : Parameterization.values()) {
            GaussianDiffusion d = new GaussianDiffusion(sch, p, VarianceType.FIXED_LARGE, OPS);
            Tensor target = d.target(x0, t, noise);
            Losses.Terms perfect = new Losses(d).trainingLoss((x, ts, c) -> target, x0, t, noise, null);
            assertArrayEquals(new double[] {0, 0}, perfect.loss(), 1e-12, p.name());
            Losses.Terms zero =
                    new Losses(d).trainingLoss((x, ts, c) -> Tensor.zeros(DType.F32, 2, 3, 4), x0, t, noise, null);
            double[] want = new double[2];
            float[] tv = target.toFloatArray();
            for (int i = 0; i < tv.length; i++) {
                want[i / 12] += tv[i] * (double) tv[i] / 12;
            }
            assertArrayEquals(want, zero.mse(), 1e-6, p.name());
            assertArrayEquals(new double[] {0, 0}, zero.vlb(), 0);
        }
    }

    @Test
    void hybridLossAddsTheScaledBoundTerm() {
        NoiseSchedule sch = Schedules.linear(100, 1e-4, 0.02);
        GaussianDiffusion d = new GaussianDiffusion(sch, Parameterization.EPSILON, VarianceType.LEARNED_RANGE, OPS);
        Tensor x0 = Tensor.zeros(DType.F32, 2, 3, 4);
        Tensor noise = Tensor.zeros(DType.F32, 2, 3, 4);
        new RandomStream(2, 0).fillNormal(x0, POOL);
        new RandomStream(2, 1).fillNormal(noise, POOL);
        Tensor out = Tensor.zeros(DType.F32, 2, 6, 4);
        new RandomStream(2, 2).fillNormal(out, POOL);
        int[] t = {0, 50};
        Losses.Terms terms = new Losses(d).trainingLoss((x, ts, c) -> out, x0, t, noise, null);
        Losses.Terms plain = new Losses(d, Losses.VbScale.NONE).trainingLoss((x, ts, c) -> out, x0, t, noise, null);
        Tensor xt = d.qSample(x0, t, noise);
        double[] bound = new VariationalBound(d)
                .term(d.pMeanVariance(out, xt, t, X0Processing.none()), x0, xt, t)
                .bitsPerDim();
        double[] mse = Losses.meanSquaredError(OPS, out.slice(1, 0, 3), noise);
        for (int b = 0; b < 2; b++) {
            assertEquals(bound[b] * 100 / 1000.0, terms.vlb()[b], 1e-12);
            assertEquals(bound[b], plain.vlb()[b], 1e-12);
            assertEquals(mse[b], terms.mse()[b], 1e-12);
            assertEquals(terms.mse()[b] + terms.vlb()[b], terms.loss()[b], 1e-12);
        }
    }
}
