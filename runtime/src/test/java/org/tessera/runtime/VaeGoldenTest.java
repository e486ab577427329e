package org.tessera.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.tessera.engine.io.SafetensorsReader;
import org.tessera.engine.tensor.Tensor;
import org.tessera.testing.RepoFiles;
import org.tessera.testing.TensorDifference;

/**
 * The stdlib AutoencoderKL (vae.tess) against a PyTorch forward of diffusers' semantics
 * (runtime/src/test/python/vae_golden.py): a tiny three-level configuration under diffusers'
 * state-dict names, encoding a non-square image to its mean and log-variance and decoding a latent;
 * and the same weights under the attention keys checkpoints had before diffusers renamed them.
 */
class VaeGoldenTest {
    private static final Path GOLDENS = RepoFiles.root().resolve("runtime/src/test/resources/vae");

    @ParameterizedTest
    @CsvSource({"encode, x, vae_tiny", "decode, z, vae_tiny", "decode, z, vae_tiny_old_names"})
    void tinyAutoencoderMatchesPyTorch(String run, String input, String weights, @TempDir Path dir) throws Exception {
        Path reference = GOLDENS.resolve("vae_tiny_reference.safetensors");
        Path script = dir.resolve("vae.tess");
        Files.writeString(
                script, """
                import "vae.tess"

                pipeline vae_tiny {
                    model   = AutoencoderKL(block_out_channels = [8, 16, 16], layers_per_block = 1,
                                            norm_num_groups = 4, run = "%s")
                    weights = "%s"
                    inputs  = load("%s", %s = "%s.%s")
                    output "out.safetensors" = tensors(out)
                }
                """.formatted(run, GOLDENS.resolve(weights + ".safetensors"), reference, input, run, input));
        try (Pipeline p = Tessera.compile(script, CompileOptions.defaults().withThreads(2));
                SafetensorsReader ref = SafetensorsReader.open(reference)) {
            Tensor expected = ref.tensor(run + ".out");
            Tensor actual = p.runForward().get("out");
            double worst = TensorDifference.maxAbs(expected, actual);
            assertTrue(worst <= 2e-5, run + ": max |difference| to PyTorch = " + worst);
        }
    }

    /**
     * decode(..., tile = 4, overlap = 2) on 8×8 latents: nine tiles of the tiny VAE blended into one
     * 32×32 image of the untiled decode's shape. The tiles' attention and convolutions see less
     * context than the whole, so the two differ near seams; the difference is printed.
     */
    @Test
    void aTiledDecodeHasTheUntiledShape(@TempDir Path dir) throws Exception {
        String script = """
                import "dit.tess"
                import "vae.tess"

                pipeline tiles {
                    let z = sample(model = DiT(input_size = 8, patch_size = 2, in_channels = 4, hidden_size = 32,
                                               depth = 1, num_heads = 2, num_classes = 2, learn_sigma = false),
                                   weights = random(seed = 1), sampler = ddim(steps = 2), guidance = none,
                                   classes = [0, 1])
                    let img = decode(z, model = AutoencoderKL(block_out_channels = [8, 16, 16], layers_per_block = 1,
                                                             norm_num_groups = 4),
                                     weights = "%s"%s)
                    output "o.safetensors" = tensors(img)
                }
                """;
        float[][] images = new float[2][];
        int[] shape = null;
        for (int tiled = 0; tiled < 2; tiled++) {
            Path file = dir.resolve("tiles-" + tiled + ".tess");
            Files.writeString(
                    file,
                    script.formatted(
                            GOLDENS.resolve("vae_tiny.safetensors"), tiled == 1 ? ", tile = 4, overlap = 2" : ""));
            try (Pipeline p = Tessera.compile(file, CompileOptions.defaults().withThreads(2))) {
                p.execute(dir.resolve("out-" + tiled), 0, org.tessera.engine.diffusion.StepCallback.NONE);
            }
            try (SafetensorsReader r =
                    SafetensorsReader.open(dir.resolve("out-" + tiled).resolve("o.safetensors"))) {
                Tensor img = r.tensor("img");
                shape = img.shape();
                images[tiled] = img.toFloatArray();
            }
        }
        assertArrayEquals(new int[] {2, 3, 32, 32}, shape);
        double worst = 0;
        for (int i = 0; i < images[0].length; i++) {
            assertTrue(Float.isFinite(images[1][i]));
            worst = Math.max(worst, Math.abs(images[0][i] - images[1][i]));
        }
        System.out.printf("tiled decode (4×4 latent tiles, overlap 2) against whole: max |difference| %.4f%n", worst);
    }
}
