package org.tessera.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.tessera.engine.diffusion.ClassifierFreeGuidance;
import org.tessera.engine.diffusion.DdimSampler;
import org.tessera.engine.diffusion.GaussianDiffusion;
import org.tessera.engine.diffusion.Respacing;
import org.tessera.engine.diffusion.StepCallback;
import org.tessera.engine.diffusion.VarianceType;
import org.tessera.engine.diffusion.X0Processing;
import org.tessera.engine.parallel.WorkerPool;
import org.tessera.engine.random.RandomStream;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Tensor;
import org.tessera.testing.RepoFiles;

/**
 * Typed sampling requests on the tiny reference DiT: the batch, the starting noise, the steps,
 * the spacing and the guidance chosen per call, each checked against the diffusion core run by
 * hand.
 */
class SampleRequestTest {
    private static Pipeline pipeline;
    private static final WorkerPool POOL = new WorkerPool(1);

    @BeforeAll
    static void compile() {
        pipeline = Tessera.compile(
                RepoFiles.sample("dit-tiny-sample.tess"),
                CompileOptions.defaults()
                        .withThreads(2)
                        .withDevice("cpu")
                        .withOverrides(Map.of("sampler", "ddim(steps = 4)")));
    }

    @AfterAll
    static void close() {
        pipeline.close();
        POOL.close();
    }

    @Test
    void theScriptsSettingsAreTheDefaults() {
        SampleResult r = pipeline.sample(SampleRequest.seed(5));
        assertArrayEquals(new int[] {2, 4, 8, 8}, r.samples().shape());
        assertArrayEquals(new long[] {1, 7}, r.classes());
        assertEquals(4, r.steps());
        assertEquals(4.0, r.guidanceScale());
        // "4" keeps 0, 333, 666, 999 of the 1000 training steps; the model sees the noisiest first.
        assertArrayEquals(new int[] {999, 666, 333, 0}, r.timesteps());
    }

    @Test
    void anotherBatchSizeCompilesItsOwnPlanAndEqualsTheSameSamplesRunAlone() {
        SampleResult three = pipeline.sample(SampleRequest.seed(5).withClasses(3, 1, 4));
        assertArrayEquals(new int[] {3, 4, 8, 8}, three.samples().shape());
        // Sample 1 of the batch (class 1) starts from its own rows of the seed's noise, so running
        // it in a batch of one from those rows gives the same result.
        Tensor xT = Tensor.zeros(DType.F32, 3, 4, 8, 8);
        new RandomStream(5, 0).fillNormal(xT, POOL);
        Tensor row = Tensor.zeros(DType.F32, 1, 4, 8, 8);
        row.copyFrom(xT.slice(0, 1, 2));
        SampleResult one = pipeline.sample(SampleRequest.seed(5).withClasses(1).withStartNoise(row));
        float[] a = three.samples().slice(0, 1, 2).contiguous().toFloatArray();
        float[] b = one.samples().toFloatArray();
        for (int i = 0; i < a.length; i++) {
            assertEquals(a[i], b[i], 1e-5, "element " + i);
        }
    }

    @Test
    void aStartingNoiseDrawnFromTheSeedGivesTheSeedsSamples() {
        Tensor xT = Tensor.zeros(DType.F32, 2, 4, 8, 8);
        new RandomStream(11, 0).fillNormal(xT, POOL);
        assertArrayEquals(
                pipeline.sample(SampleRequest.seed(11)).samples().toFloatArray(),
                pipeline.sample(SampleRequest.seed(11).withStartNoise(xT))
                        .samples()
                        .toFloatArray());
    }

    @Test
    void ddimSpacingKeepsAnIntegerStride() {
        SampleResult even = pipeline.sample(SampleRequest.seed(5).withSpacing("4"));
        SampleResult ddim = pipeline.sample(SampleRequest.seed(5).withSpacing("ddim4"));
        assertArrayEquals(new int[] {999, 666, 333, 0}, even.timesteps());
        assertArrayEquals(new int[] {750, 500, 250, 0}, ddim.timesteps());
        assertTrue(Respacing.spaceTimesteps(1000, "ddim4").length == 4);
    }

    @Test
    void theRequestMatchesTheDiffusionCoreRunByHand() {
        SampleResult r = pipeline.sample(
                SampleRequest.seed(9).withSteps(3).withGuidance(2.5).withEta(0.5));
        GaussianDiffusion base = pipeline.diffusion();
        GaussianDiffusion spaced = new GaussianDiffusion(
                Respacing.respace(base.schedule(), "3"), base.parameterization(), base.varianceType(), base.ops());
        try (Pipeline.Denoiser net = pipeline.denoiser(ClassifierFreeGuidance.modelBatch(2))) {
            var guided = new ClassifierFreeGuidance(
                    net,
                    2.5,
                    Tensor.ofLongs(java.lang.foreign.Arena.ofAuto(), new long[] {10}, 1),
                    ClassifierFreeGuidance.Channels.DIT_FIRST_THREE,
                    base.ops());
            Tensor labels = Tensor.ofLongs(java.lang.foreign.Arena.ofAuto(), new long[] {1, 7}, 2);
            Tensor byHand = new DdimSampler(spaced, 0.5, X0Processing.none(), POOL)
                    .sample(guided, new int[] {2, 4, 8, 8}, labels, 9, StepCallback.NONE);
            assertArrayEquals(byHand.toFloatArray(), r.samples().toFloatArray());
        }
    }

    @Test
    void ditWithLearnedSigmaHasALearnedVariance() {
        assertEquals(VarianceType.LEARNED_RANGE, pipeline.diffusion().varianceType());
        assertEquals(1000, pipeline.diffusion().steps());
    }

    @Test
    void badRequestsAreRefusedWithAReason() {
        assertTrue(assertThrows(
                        IllegalArgumentException.class,
                        () -> pipeline.sample(SampleRequest.seed(1).withClasses(10)))
                .getMessage()
                .contains("class 10 is outside 0..9"));
        Tensor wrong = Tensor.zeros(DType.F32, 2, 4, 16, 16);
        assertTrue(assertThrows(
                        IllegalArgumentException.class,
                        () -> pipeline.sample(SampleRequest.seed(1).withStartNoise(wrong)))
                .getMessage()
                .contains("x_T is [2, 4, 16, 16]; this request samples [2, 4, 8, 8]"));
        assertTrue(assertThrows(
                        IllegalArgumentException.class,
                        () -> pipeline.sample(SampleRequest.seed(1).withSpacing("ddim999")))
                .getMessage()
                .contains("ddim999"));
        assertThrows(IllegalArgumentException.class, () -> SampleRequest.seed(1).withSteps(0));
    }

    @Test
    void newBatchSizesCompileSafelyFromSeveralThreadsAtOnce() throws Exception {
        var callers = java.util.concurrent.Executors.newFixedThreadPool(2);
        try {
            var five =
                    callers.submit(() -> pipeline.sample(SampleRequest.seed(3).withClasses(1, 2, 3, 4, 5)));
            var six = callers.submit(() -> pipeline.sample(SampleRequest.seed(3).withClasses(1, 2, 3, 4, 5, 6)));
            assertEquals(5, five.get().samples().size(0));
            assertEquals(6, six.get().samples().size(0));
        } finally {
            callers.shutdown();
        }
    }
}
