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
 * The stdlib Latte (latte.tess) against a PyTorch forward of the published model's semantics
 * (runtime/src/test/python/latte_golden.py): a tiny configuration under each conditioning, two clips
 * of three frames in the reference layout (batch, frames, channels, height, width), its
 * checkpoint loaded under the reference's state-dict names as they are.
 */
class LatteGoldenTest {
    private static final Path GOLDENS = RepoFiles.root().resolve("runtime/src/test/resources/latte");

    /**
     * Each of the reference's conditionings: extras = 2 (timestep + class), 78 (timestep + a
     * projected text embedding, here [B, 3, 5] instead of CLIP's [B, 77, 768]) and 1 (the
     * timestep alone, the reference's default). The class-conditional weights also load as the
     * PyTorch checkpoint torch.save wrote, read without Python.
     */
    @ParameterizedTest
    @CsvSource({
        "latte_tiny, 'extras = 2, ', 'y = \"forward.y\"', safetensors",
        "latte_tiny, 'extras = 2, ', 'y = \"forward.y\"', pt",
        "latte_tiny_text, 'extras = 78, text_tokens = 3, text_dim = 5, ', 'text_embedding = \"forward.text_embedding\"',"
                + " safetensors",
        "latte_tiny_uncond, '', '', safetensors"
    })
    void tinyLatteForwardMatchesPyTorch(
            String golden, String extras, String conditioning, String format, @TempDir Path dir) throws Exception {
        Path weights = GOLDENS.resolve(golden + "." + format); // .pt: the checkpoint as torch.save wrote it
        Path reference = GOLDENS.resolve(golden + "_reference.safetensors");
        Path script = dir.resolve("latte-forward.tess");
        Files.writeString(
                script, """
                import "latte.tess"

                pipeline latte_forward {
                    model   = Latte(input_size = 8, patch_size = 2, in_channels = 4, hidden_size = 32, depth = 4,
                                    num_heads = 2, num_frames = 3, num_classes = 5, %slearn_sigma = true)
                    weights = "%s"
                    inputs  = load("%s", x = "forward.x", t = "forward.t"%s)
                    output "out.safetensors" = tensors(out)
                }
                """.formatted(extras, weights, reference, conditioning.isEmpty() ? "" : ", " + conditioning));
        try (Pipeline p = Tessera.compile(script, CompileOptions.defaults().withThreads(2));
                SafetensorsReader ref = SafetensorsReader.open(reference)) {
            Tensor expected = ref.tensor("forward.out");
            Tensor actual = p.runForward().get("out");
            double worst = TensorDifference.maxAbs(expected, actual);
            assertTrue(worst <= 1e-5, golden + ": max |difference| to PyTorch = " + worst);
        }
    }

    /** samples/latte-tiny.tess end to end: guided sampling of two clips, written as tensors, GIF and MP4. */
    @Test
    void theTinyLatteSampleWritesClips(@TempDir Path out) throws Exception {
        try (Pipeline p = Tessera.compile(
                RepoFiles.sample("latte-tiny.tess"), CompileOptions.defaults().withThreads(2))) {
            java.util.List<Path> files = p.execute(out, 0, org.tessera.engine.diffusion.StepCallback.NONE);
            java.util.Set<String> names = new java.util.TreeSet<>();
            for (Path f : files) {
                names.add(f.getFileName().toString());
                assertTrue(Files.size(f) > 0, f + " is empty");
            }
            org.junit.jupiter.api.Assertions.assertEquals(
                    java.util.Set.of("latents.safetensors", "clip-0.gif", "clip-1.gif", "clip-0.mp4", "clip-1.mp4"),
                    names);
            try (SafetensorsReader r = SafetensorsReader.open(out.resolve("latents.safetensors"))) {
                assertArrayEquals(
                        new int[] {2, 8, 4, 16, 16}, r.tensor("samples").shape());
            }
        }
    }

    /** A script named like the library file it imports (latte.tess: import "latte.tess") gets the library's. */
    @Test
    void aScriptNamedLatteImportsTheLibrarysLatte(@TempDir Path dir) throws Exception {
        Path script = dir.resolve("latte.tess");
        Files.copy(RepoFiles.sample("latte-tiny.tess"), script);
        Tessera.compile(script, CompileOptions.defaults()).close();
    }
}
