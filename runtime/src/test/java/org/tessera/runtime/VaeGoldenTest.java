package org.tessera.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.tessera.engine.io.SafetensorsReader;
import org.tessera.engine.tensor.Tensor;
import org.tessera.testing.RepoFiles;

/**
 * The stdlib AutoencoderKL (vae.tess) against a PyTorch forward of diffusers' semantics
 * (runtime/src/test/python/vae_golden.py): a tiny three-level configuration under diffusers'
 * state-dict names, encoding a non-square image to its mean and log-variance and decoding a latent.
 */
class VaeGoldenTest {
    private static final Path GOLDENS = RepoFiles.root().resolve("runtime/src/test/resources/vae");

    @ParameterizedTest
    @CsvSource({"encode, x", "decode, z"})
    void tinyAutoencoderMatchesPyTorch(String run, String input, @TempDir Path dir) throws Exception {
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
                """.formatted(run, GOLDENS.resolve("vae_tiny.safetensors"), reference, input, run, input));
        try (Pipeline p = Tessera.compile(script, CompileOptions.defaults().withThreads(2));
                SafetensorsReader ref = SafetensorsReader.open(reference)) {
            Tensor expected = ref.tensor(run + ".out");
            Tensor actual = p.runForward().get("out");
            assertArrayEquals(expected.shape(), actual.shape());
            float[] e = expected.toFloatArray();
            float[] a = actual.toFloatArray();
            double worst = 0;
            for (int i = 0; i < e.length; i++) {
                worst = Math.max(worst, Math.abs(e[i] - a[i]));
            }
            assertTrue(worst <= 2e-5, run + ": max |difference| to PyTorch = " + worst);
        }
    }
}
