package org.tessera.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessera.dsl.CompilationException;
import org.tessera.engine.diffusion.ClassifierFreeGuidance;
import org.tessera.engine.diffusion.DdimSampler;
import org.tessera.engine.diffusion.DdpmSampler;
import org.tessera.engine.diffusion.DenoisingModel;
import org.tessera.engine.diffusion.GaussianDiffusion;
import org.tessera.engine.diffusion.Respacing;
import org.tessera.engine.diffusion.Sampler;
import org.tessera.engine.diffusion.StepCallback;
import org.tessera.engine.diffusion.X0Processing;
import org.tessera.engine.parallel.WorkerPool;
import org.tessera.engine.tensor.Tensor;
import org.tessera.testing.RepoFiles;

/**
 * The samplers of the standard library, written in the language, against the engine's Java
 * samplers on the reference tiny DiT (its golden checkpoint), with the same seeds and guidance.
 */
class ScriptedSamplerTest {
    private static Pipeline pipeline;
    private static final WorkerPool POOL = new WorkerPool(1);

    @BeforeAll
    static void compile() {
        pipeline = Tessera.compile(
                RepoFiles.sample("dit-tiny-sample.tess"),
                CompileOptions.defaults().withThreads(2).withDevice("cpu"));
    }

    @AfterAll
    static void close() {
        pipeline.close();
        POOL.close();
    }

    /** The Java sampler {@code make} on the pipeline's process respaced to {@code steps}, guided as the script says. */
    private static float[] javaSamples(
            int steps, long seed, java.util.function.Function<GaussianDiffusion, Sampler> make) {
        GaussianDiffusion base = pipeline.diffusion();
        GaussianDiffusion spaced = new GaussianDiffusion(
                Respacing.respace(base.schedule(), Integer.toString(steps)),
                base.parameterization(),
                base.varianceType(),
                base.ops());
        try (Pipeline.Denoiser net = pipeline.denoiser(ClassifierFreeGuidance.modelBatch(2))) {
            DenoisingModel guided = new ClassifierFreeGuidance(
                    net,
                    4.0,
                    Tensor.ofLongs(Arena.ofAuto(), new long[] {10}, 1),
                    ClassifierFreeGuidance.Channels.DIT_FIRST_THREE,
                    base.ops());
            Tensor labels = Tensor.ofLongs(Arena.ofAuto(), new long[] {1, 7}, 2);
            return make.apply(spaced)
                    .sample(guided, new int[] {2, 4, 8, 8}, labels, seed, StepCallback.NONE)
                    .toFloatArray();
        }
    }

    private static float[] scripted(String sampler, long seed) {
        try (Pipeline p = Tessera.compile(
                RepoFiles.sample("dit-tiny-sample.tess"),
                CompileOptions.defaults().withThreads(2).withDevice("cpu").withOverrides(Map.of("sampler", sampler)))) {
            return p.sample(SampleRequest.seed(seed)).samples().toFloatArray();
        }
    }

    private static void assertClose(float[] expected, float[] actual, double relative) {
        double scale = 0;
        for (float v : expected) {
            scale = Math.max(scale, Math.abs(v));
        }
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i], actual[i], relative * scale, "element " + i);
        }
    }

    @Test
    void ddimFromTheStandardLibraryEqualsTheJavaDdim() {
        assertArrayEquals(
                javaSamples(10, 3, d -> new DdimSampler(d, 0.0, X0Processing.none(), POOL)),
                scripted("ddim(steps = 10)", 3));
        assertClose(
                javaSamples(10, 3, d -> new DdimSampler(d, 0.5, X0Processing.none(), POOL)),
                scripted("ddim(steps = 10, eta = 0.5)", 3),
                1e-6);
    }

    @Test
    void ddpmFromTheStandardLibraryEqualsTheJavaDdpm() {
        // DiT's learned variance: σ per element from the model's second half of channels.
        assertClose(
                javaSamples(8, 5, d -> new DdpmSampler(d, X0Processing.none(), POOL)),
                scripted("ddpm(steps = 8)", 5),
                1e-6);
    }

    @Test
    void eulerTakesDdimsDeterministicStep() {
        assertClose(
                javaSamples(6, 2, d -> new DdimSampler(d, 0.0, X0Processing.none(), POOL)),
                scripted("euler(steps = 6)", 2),
                1e-4);
    }

    @Test
    void dpmSolverIsDdimForTwoStepsAndSecondOrderAfter() {
        // Its first step is first order (DDIM's) and its last returns x̂₀, as DDIM's last does.
        assertClose(
                javaSamples(2, 4, d -> new DdimSampler(d, 0.0, X0Processing.none(), POOL)),
                scripted("dpmpp_2m(steps = 2)", 4),
                1e-4);
        float[] ddim = javaSamples(6, 4, d -> new DdimSampler(d, 0.0, X0Processing.none(), POOL));
        float[] dpm = scripted("dpmpp_2m(steps = 6)", 4);
        assertFalse(java.util.Arrays.equals(ddim, dpm));
        for (float v : dpm) {
            assertTrue(Float.isFinite(v));
        }
    }

    @Test
    void eulerAncestralDrawsNoiseAndIsReproducible() {
        float[] a = scripted("euler_ancestral(steps = 5)", 8);
        assertArrayEquals(a, scripted("euler_ancestral(steps = 5)", 8));
        assertFalse(java.util.Arrays.equals(a, scripted("euler_ancestral(steps = 5)", 9)));
        assertFalse(java.util.Arrays.equals(a, scripted("euler(steps = 5)", 8)));
    }

    @Test
    void aRequestsEtaReachesTheSampler() {
        assertClose(
                javaSamples(50, 6, d -> new DdimSampler(d, 1.0, X0Processing.none(), POOL)),
                pipeline.sample(SampleRequest.seed(6).withEta(1.0).withSteps(50))
                        .samples()
                        .toFloatArray(),
                1e-6);
    }

    private static final String USER_PIPELINE = """
            import "dit.tess"
            # A user's own sampler: jump to the model's x̂₀ in one step, shrunk towards 0.
            sampler shrink(k: float = 0.5) {
                forward(x0) {
                    return x0 * k
                }
            }
            pipeline p {
                model = DiT(input_size = 8, patch_size = 2, in_channels = 4, hidden_size = 64, depth = 2,
                            num_heads = 4, num_classes = 10, learn_sigma = true)
                weights = "GOLDEN"
                sampler = shrink(steps = 1, k = 0.25)
                classes = [3]
                output "s.safetensors" = tensors(samples)
            }
            """;

    @Test
    void aSamplerDefinedInAUsersScriptRuns(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("mine.tess");
        Files.writeString(
                file,
                USER_PIPELINE.replace(
                        "GOLDEN", RepoFiles.golden("dit_tiny.safetensors").toString()));
        assertFalse(
                Tessera.check(java.util.List.of(file)).hasErrors(),
                Tessera.check(java.util.List.of(file)).rendered());
        try (Pipeline p =
                Tessera.compile(file, CompileOptions.defaults().withThreads(1).withDevice("cpu"))) {
            SampleResult r = p.sample(SampleRequest.seed(1));
            Tensor samples = r.samples();
            // One step keeps timestep 0 (DiT's space_timesteps for a single section); by hand: x_T
            // from the seed, the model at that timestep, x̂₀ from its ε, times 0.25.
            int t = r.timesteps()[0];
            assertEquals(0, t);
            Tensor xT = Tensor.zeros(org.tessera.engine.tensor.DType.F32, 1, 4, 8, 8);
            new org.tessera.engine.random.RandomStream(1, 0).fillNormal(xT, POOL);
            GaussianDiffusion d = p.diffusion();
            try (Pipeline.Denoiser net = p.denoiser(1)) {
                Tensor out = net.predict(
                        xT,
                        Tensor.ofLongs(Arena.ofAuto(), new long[] {t}, 1),
                        Tensor.ofLongs(Arena.ofAuto(), new long[] {3}, 1));
                float[] x0 = d.pMeanVariance(out, xT, new int[] {t}, X0Processing.none())
                        .predictedX0()
                        .toFloatArray();
                float[] got = samples.toFloatArray();
                for (int i = 0; i < x0.length; i++) {
                    assertEquals(0.25f * x0[i], got[i], 1e-5 * Math.max(1, Math.abs(x0[i])), "element " + i);
                }
            }
        }
    }

    @Test
    void samplerMistakesAreCompileErrors(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("bad.tess");
        Files.writeString(
                file,
                USER_PIPELINE
                        .replace(
                                "GOLDEN",
                                RepoFiles.golden("dit_tiny.safetensors").toString())
                        .replace("sampler = shrink(steps = 1, k = 0.25)", "sampler = shrnk(steps = 1)"));
        CompilationException e = assertThrows(
                CompilationException.class, () -> Tessera.compile(file).close());
        assertTrue(e.getMessage().contains("unknown sampler 'shrnk'; did you mean 'shrink'?"), e.getMessage());
        Files.writeString(file, "sampler odd() {\n    forward(x, velocity) {\n        return x\n    }\n}\n");
        String text = Tessera.check(java.util.List.of(file)).rendered();
        assertTrue(text.contains("sampler odd: forward input 'velocity' is not a step quantity"), text);
        Files.writeString(file, "sampler clash(last: bool = false) {\n    forward(x) {\n        return x\n    }\n}\n");
        text = Tessera.check(java.util.List.of(file)).rendered();
        assertTrue(text.contains("bad.tess:1:15: error: sampler parameter 'last' hides the step value"), text);
        try (Pipeline p = Tessera.compile(
                RepoFiles.sample("dit-tiny-sample.tess"),
                CompileOptions.defaults()
                        .withThreads(1)
                        .withDevice("cpu")
                        .withOverrides(Map.of("sampler", "euler(steps = 2)")))) {
            IllegalArgumentException noEta = assertThrows(
                    IllegalArgumentException.class,
                    () -> p.sample(SampleRequest.seed(1).withEta(0.5)));
            assertTrue(noEta.getMessage().contains("sampler euler has no parameter 'eta'"), noEta.getMessage());
        }
    }
}
