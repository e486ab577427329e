package org.tessera.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessera.dsl.CompilationException;
import org.tessera.engine.backend.Backends;
import org.tessera.engine.diffusion.StepCallback;
import org.tessera.engine.io.SafetensorsWriter;
import org.tessera.engine.io.WeightBinding;
import org.tessera.engine.io.WeightSource;
import org.tessera.engine.parallel.WorkerPool;
import org.tessera.engine.random.RandomStream;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Tensor;

/** A second model applied to a stage's result (decode / encode), and a starting noise given by the script. */
class DecodeAndNoiseTest {
    private static final String TINY =
            "DiT(input_size = 8, patch_size = 4, in_channels = 4, hidden_size = 32, depth = 1,"
                    + " num_heads = 2, num_classes = 10)";

    // A stand-in for a VAE decoder (issue 15 brings AutoencoderKL): a 1×1 convolution from the
    // latent's 4 channels to 3, applied per pixel, then clamped (as a decoder clamps to its image range).
    private static final String DECODER = """
            model PixelDecoder() {
                weight weight: [3, 4, 1, 1]
                weight bias: [3]
                forward(z: [B, 4, H, W]) {
                    return clamp(conv2d(z, weight, bias), -50.0, 50.0)
                }
            }
            """;

    private static Path script(Path dir, String text) throws Exception {
        Path file = dir.resolve("p.tess");
        Files.writeString(file, text);
        return file;
    }

    @Test
    void decodeRunsASecondModelOnTheSamples(@TempDir Path dir) throws Exception {
        Path file = script(
                dir,
                "import \"dit.tess\"\n" + DECODER + "pipeline p {\n"
                        + "    let z = sample(model = " + TINY
                        + ", weights = random(seed = 1), sampler = ddim(steps = 2),"
                        + " classes = [1, 2])\n"
                        + "    let img = decode(z, model = PixelDecoder(), weights = random(seed = 5, std = 0.5))\n"
                        + "    output \"img.safetensors\" = tensors(img)\n}\n");
        try (Pipeline p =
                Tessera.compile(file, CompileOptions.defaults().withThreads(1).withDevice("cpu"))) {
            PipelineResult r = p.runStages(SampleRequest.seed(3), StepCallback.NONE);
            Tensor z = r.get("z");
            Tensor img = r.get("img");
            assertArrayEquals(new int[] {2, 3, 8, 8}, img.shape());
            // By hand, with the decoder's random weights drawn again from the same keyed streams.
            List<Arena> arenas = Collections.synchronizedList(new ArrayList<>());
            try (WorkerPool pool = new WorkerPool(1)) {
                WeightSource w = WeightBinding.random(5, 0.5, Backends.cpu(pool, m -> {}), arenas)
                        .source();
                Tensor weight = w.tensor("weight", new int[] {3, 4, 1, 1});
                Tensor bias = w.tensor("bias", new int[] {3});
                for (int n = 0; n < 2; n++) {
                    for (int c = 0; c < 3; c++) {
                        for (int y = 0; y < 8; y++) {
                            for (int x = 0; x < 8; x++) {
                                double v = bias.getFloat(c);
                                for (int k = 0; k < 4; k++) {
                                    v += weight.getFloat(c, k, 0, 0) * (double) z.getFloat(n, k, y, x);
                                }
                                v = Math.min(Math.max(v, -50), 50);
                                assertEquals(v, img.getFloat(n, c, y, x), 1e-4 * Math.max(1, Math.abs(v)));
                            }
                        }
                    }
                }
            } finally {
                arenas.forEach(Arena::close);
            }
        }
    }

    @Test
    void aDecoderTakesOneInput(@TempDir Path dir) throws Exception {
        Path file = script(
                dir,
                "import \"dit.tess\"\npipeline p {\n"
                        + "    let z = sample(model = " + TINY + ", weights = random(), sampler = ddim(steps = 2))\n"
                        + "    let img = decode(z, model = " + TINY + ", weights = random())\n"
                        + "    output \"img.safetensors\" = tensors(img)\n}\n");
        CompilationException e = assertThrows(
                CompilationException.class, () -> Tessera.compile(file).close());
        assertTrue(
                e.getMessage().contains("DiT takes 3 forward inputs [x, t, y]; a decode or encode stage gives it one"),
                e.getMessage());
    }

    @Test
    void theScriptCanGiveTheStartingNoise(@TempDir Path dir) throws Exception {
        Tensor xT = Tensor.zeros(DType.F32, 2, 4, 8, 8);
        try (WorkerPool pool = new WorkerPool(1)) {
            new RandomStream(77, 0).fillNormal(xT, pool);
        }
        Map<String, Tensor> file = new LinkedHashMap<>();
        file.put("x_T", xT);
        SafetensorsWriter.write(dir.resolve("noise.safetensors"), new java.util.LinkedHashMap<>(file));
        String pipeline =
                "import \"dit.tess\"\npipeline p {\n    model = " + TINY + "\n    weights = random(seed = 2)\n"
                        + "    sampler = ddim(steps = 3)\n    classes = [4, 5]\n    NOISE\n"
                        + "    output \"s.safetensors\" = tensors(samples)\n}\n";
        Path withNoise = script(dir, pipeline.replace("NOISE", "noise = load(\"noise.safetensors\", \"x_T\")"));
        float[] given;
        try (Pipeline p = Tessera.compile(
                withNoise, CompileOptions.defaults().withThreads(1).withDevice("cpu"))) {
            given = p.sample(SampleRequest.seed(1)).samples().toFloatArray();
        }
        Path seeded = dir.resolve("q.tess");
        Files.writeString(seeded, pipeline.replace("NOISE", ""));
        try (Pipeline p =
                Tessera.compile(seeded, CompileOptions.defaults().withThreads(1).withDevice("cpu"))) {
            // The file's noise is the noise seed 77 draws: the same samples (DDIM η = 0 draws nothing else).
            assertArrayEquals(p.sample(SampleRequest.seed(77)).samples().toFloatArray(), given);
        }
        Path wrong = script(
                dir,
                pipeline.replace("NOISE", "noise = load(\"noise.safetensors\", \"x_T\")")
                        .replace("classes = [4, 5]", "classes = [4]"));
        CompilationException e = assertThrows(
                CompilationException.class, () -> Tessera.compile(wrong).close());
        assertTrue(
                e.getMessage().contains("'x_T' is [2, 4, 8, 8]; the starting noise of this stage is [1, 4, 8, 8]"),
                e.getMessage());
    }
}
