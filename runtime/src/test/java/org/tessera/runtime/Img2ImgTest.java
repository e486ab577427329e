package org.tessera.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.SequencedMap;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessera.dsl.CompilationException;
import org.tessera.engine.diffusion.StepCallback;
import org.tessera.engine.io.SafetensorsReader;
import org.tessera.engine.io.SafetensorsWriter;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Tensor;
import org.tessera.testing.RepoFiles;

/**
 * img2img: an image read from a file, encoded by the VAE, noised to where the last part of the
 * sampler's steps begins and sampled from there, then decoded.
 */
class Img2ImgTest {
    private static final Path VAE = RepoFiles.root().resolve("runtime/src/test/resources/vae/vae_tiny.safetensors");

    @TempDir
    Path dir;

    private Path script(String noise, String strength) throws Exception {
        BufferedImage photo = new BufferedImage(20, 16, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < 16; y++) {
            for (int x = 0; x < 20; x++) {
                photo.setRGB(x, y, (x * 12) << 16 | (y * 15) << 8 | 128);
            }
        }
        ImageIO.write(photo, "png", dir.resolve("photo.png").toFile());
        String vae = "AutoencoderKL(block_out_channels = [8, 16, 16], layers_per_block = 1, norm_num_groups = 4";
        return Files.writeString(dir.resolve("img2img.tess"), """
                import "dit.tess"
                import "vae.tess"

                pipeline img2img {
                    let photo = image("photo.png", size = 16)
                    let z = encode(photo, model = %1$s, run = "encode_latent"), weights = "%2$s")
                    # a DiT as initialised: its output is 0, so DDIM only rescales what it starts from
                    let s = sample(model = DiT(input_size = 4, patch_size = 2, in_channels = 4, hidden_size = 32,
                                               depth = 1, num_heads = 2, num_classes = 2, learn_sigma = false),
                                   weights = init(seed = 1), sampler = ddim(steps = 10), guidance = none,
                                   classes = [0, 1], init = z, strength = %4$s%3$s)
                    let img = decode(s, model = %1$s, run = "decode_latent"), weights = "%2$s")
                    output "img.png" = png(img)
                    output "t.safetensors" = tensors(z, s, img)
                }
                """.formatted(vae, VAE, noise, strength));
    }

    private void noiseFile(float value) throws Exception {
        Tensor t = Tensor.zeros(DType.F32, 2, 4, 4, 4);
        for (int i = 0; i < 128; i++) {
            t.setFloat(value, i / 64, i / 16 % 4, i / 4 % 4, i % 4);
        }
        SequencedMap<String, Tensor> m = new LinkedHashMap<>();
        m.put("x_T", t);
        SafetensorsWriter.write(dir.resolve("noise.safetensors"), m);
    }

    /** With no noise, the zero model's DDIM ends exactly where the encoded image was. */
    @Test
    void halfTheStepsRunFromTheNoisedImage() throws Exception {
        noiseFile(0f);
        Path s = script(", noise = load(\"noise.safetensors\", \"x_T\")", "0.5");
        List<Integer> steps = new ArrayList<>();
        StepCallback counting = new StepCallback() {
            @Override
            public void onStep(int step, int total, int timestep, Tensor x, Tensor x0) {
                steps.add(step);
            }
        };
        try (Pipeline p = Tessera.compile(s, CompileOptions.defaults().withThreads(2))) {
            List<Path> files = p.execute(dir.resolve("out"), 0, counting);
            assertTrue(files.stream().anyMatch(f -> f.getFileName().toString().equals("img-1.png")), files.toString());
        }
        assertEquals(List.of(5, 6, 7, 8, 9), steps, "strength 0.5 of 10 steps: the last five");
        try (SafetensorsReader r = SafetensorsReader.open(dir.resolve("out/t.safetensors"))) {
            Tensor z = r.tensor("z");
            Tensor sampled = r.tensor("s");
            assertArrayEquals(new int[] {1, 4, 4, 4}, z.shape());
            assertArrayEquals(new int[] {2, 4, 4, 4}, sampled.shape());
            assertArrayEquals(new int[] {2, 3, 16, 16}, r.tensor("img").shape());
            float[] zv = z.toFloatArray();
            float[] sv = sampled.toFloatArray();
            for (int i = 0; i < sv.length; i++) { // both classes start from the one image
                assertEquals(zv[i % zv.length], sv[i], 1e-4f * Math.max(1f, Math.abs(zv[i % zv.length])), "at " + i);
            }
        }
    }

    @Test
    void strengthNeedsAnInitAndARange(@TempDir Path other) throws Exception {
        Path s = script("", "1.5");
        CompilationException e =
                assertThrows(CompilationException.class, () -> Tessera.compile(s, CompileOptions.defaults()));
        assertTrue(e.getMessage().contains("strength must be in (0, 1], got 1.5"), e.getMessage());
        Path t = Files.writeString(other.resolve("t.tess"), """
                import "dit.tess"
                pipeline p {
                    let s = sample(model = DiT(input_size = 4, patch_size = 2, in_channels = 4, hidden_size = 32,
                                               depth = 1, num_heads = 2, num_classes = 2, learn_sigma = false),
                                   weights = init(seed = 1), classes = [0], strength = 0.5)
                    output "t.safetensors" = tensors(s)
                }
                """);
        CompilationException e2 =
                assertThrows(CompilationException.class, () -> Tessera.compile(t, CompileOptions.defaults()));
        assertTrue(e2.getMessage().contains("strength needs init = stage (img2img)"), e2.getMessage());
    }
}
