package org.tessera.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessera.dsl.CompilationException;
import org.tessera.engine.diffusion.StepCallback;
import org.tessera.engine.io.SafetensorsReader;
import org.tessera.engine.packing.Patches;
import org.tessera.engine.parallel.WorkerPool;
import org.tessera.engine.random.RandomStream;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Tensor;
import org.tessera.testing.RepoFiles;
import org.tessera.testing.TensorDifference;

/**
 * Patch n' Pack in a sampling pipeline (issue 16, item 5): samples of several sizes in one packed
 * batch of PackedDiT, with guidance, against DiT's own sampling and against each sample alone.
 * The weights are the Fashion-MNIST DiT's, so the samples are real garments, not noise.
 */
class PackedSamplingTest {
    private static final String MODEL = "input_size = 32, patch_size = 4, in_channels = 1, hidden_size = 192,"
            + " depth = 6, num_heads = 6, num_classes = 10, learn_sigma = false";

    @TempDir
    Path dir;

    private Path script(String name, String model, String classes, String sizes) throws Exception {
        String weights =
                RepoFiles.sample("fashion-dit.safetensors").toAbsolutePath().toString();
        return Files.writeString(
                dir.resolve(name + ".tess"), """
                import "dit.tess"
                import "packed.tess"
                pipeline %s {
                    model    = %s(%s)
                    weights  = "%s"
                    schedule = linear(1000)
                    sampler  = ddim(steps = 4)
                    guidance = cfg(scale = 3.0, form = "standard")
                    clip_x0  = true
                    classes  = %s
                    %s
                    seed     = 5
                    output "x.safetensors" = tensors(samples)
                }
                """.formatted(name, model, MODEL, weights, classes, sizes));
    }

    private static SampleResult sample(Path script, Tensor xT) {
        try (Pipeline p = Tessera.compile(script, CompileOptions.defaults().withThreads(2))) {
            SampleRequest r = SampleRequest.seed(5);
            return p.sample(xT == null ? r : r.withStartNoise(xT), StepCallback.NONE);
        }
    }

    /**
     * Square garments packed sample exactly as DiT samples them: x_T is each sample's own noise in
     * the order DiT's batch draws it, and with DDIM (η = 0) nothing else is random.
     */
    @Test
    void squareSamplesPackedEqualDiTsOwn() throws Exception {
        SampleResult packed = sample(script("packed", "PackedDiT", "[1, 3, 9]", "sizes = [[32, 32]]"), null);
        SampleResult dit = sample(script("dit", "DiT", "[1, 3, 9]", ""), null);
        assertArrayEquals(new int[] {3, 1, 32, 32}, packed.samples().shape());
        assertArrayEquals(new int[][] {{32, 32}, {32, 32}, {32, 32}}, packed.sizes());
        double worst = TensorDifference.maxAbs(dit.samples(), packed.samples());
        assertTrue(worst <= 1e-4, "packed against DiT: max |difference| = " + worst);
    }

    /**
     * A square, a wide and a tall garment sampled in one packed batch (two rows, the square and the
     * wide one sharing the first; four under guidance) equal each sampled alone from the same x_T: the segments keep the samples apart, and each takes its own label,
     * timestep and guidance.
     */
    @Test
    void aMixedBatchEqualsEachSampleAlone() throws Exception {
        int[][] sizes = {{32, 32}, {32, 48}, {48, 32}};
        long[] classes = {1, 3, 9};
        SampleResult mixed = sample(
                script("mixed", "PackedDiT", "[1, 3, 9]", "sizes = [[32, 32], [32, 48], [48, 32]]\npack = 160"), null);
        assertArrayEquals(new int[] {3, 1, 48, 48}, mixed.samples().shape());
        assertArrayEquals(sizes, mixed.sizes());
        assertArrayEquals(classes, mixed.classes());
        // Each sample's own noise, in sample order from one stream (PackedBatch.startNoise).
        Tensor all = Tensor.zeros(DType.F32, 32 * 32 + 2 * 32 * 48);
        try (WorkerPool pool = new WorkerPool(1)) {
            new RandomStream(5, 0).fillNormal(all, pool);
        }
        int offset = 0;
        for (int e = 0; e < sizes.length; e++) {
            int h = sizes[e][0];
            int w = sizes[e][1];
            Tensor noise = all.slice(0, offset, offset + h * w).reshape(1, 1, h, w);
            offset += h * w;
            Tensor rows = Patches.pack(List.of(noise.reshape(1, 1, h, w)), 1, 4, h * w / 16)
                    .tokens()
                    .reshape(1, h * w / 16, 1, 16);
            String size = "sizes = [[" + h + ", " + w + "]]";
            SampleResult alone = sample(script("alone" + e, "PackedDiT", "[" + classes[e] + "]", size), rows);
            Tensor mine = mixed.samples().slice(0, e, e + 1).slice(2, 0, h).slice(3, 0, w);
            double worst = TensorDifference.maxAbs(alone.samples(), mine.contiguous());
            assertTrue(worst <= 1e-4, "sample " + e + " " + h + "×" + w + ": max |difference| = " + worst);
            // and the padding of the batch is black
            Tensor pad = mixed.samples().slice(0, e, e + 1);
            if (h < 48) {
                assertEquals(-1f, pad.getFloat(0, 0, 47, 0));
            }
            if (w < 48) {
                assertEquals(-1f, pad.getFloat(0, 0, 0, 47));
            }
        }
    }

    /** A list of sizes repeats and joins as Python's lists do, and reads as the list written out. */
    @Test
    void sizesRepeatAndJoinAsListsDo() throws Exception {
        SampleResult written = sample(
                script("written", "PackedDiT", "[1, 3, 9]", "sizes = [[32, 32], [32, 48], [32, 48]]\npack = 160"),
                null);
        SampleResult repeated = sample(
                script("repeated", "PackedDiT", "[1, 3, 9]", "sizes = [[32, 32]] + [[32, 48]] * 2\npack = 160"), null);
        assertArrayEquals(written.sizes(), repeated.sizes());
        assertEquals(0.0, TensorDifference.maxAbs(written.samples(), repeated.samples()));
        CompilationException notSizes = assertThrows(
                CompilationException.class,
                () -> Tessera.compile(
                        script("f", "PackedDiT", "[1]", "sizes = [[32, 32]] * \"two\""), CompileOptions.defaults()));
        assertTrue(notSizes.getMessage().contains("repeat count"), notSizes.getMessage());
    }

    /** samples/packed.tess end to end: nine garments of three shapes, each PNG at its own size. */
    @Test
    void thePackedSampleWritesEachGarmentAtItsSize(@TempDir Path out) throws Exception {
        try (Pipeline p = Tessera.compile(
                RepoFiles.sample("packed.tess"),
                // a few steps: the test is about shapes and files; the sampling itself is checked above
                CompileOptions.defaults().withThreads(2).withOverrides(Map.of("sampler", "ddim(steps = 4)")))) {
            List<Path> files = p.execute(out, 0, StepCallback.NONE);
            Set<String> names = new TreeSet<>();
            files.forEach(f -> names.add(f.getFileName().toString()));
            assertTrue(
                    names.containsAll(Set.of(
                            "garments.png", "garments.safetensors", "garment-0.png", "garment-4.png", "garment-8.png")),
                    names.toString());
            for (int e = 0; e < 9; e++) {
                java.awt.image.BufferedImage im = javax.imageio.ImageIO.read(
                        out.resolve("garment-" + e + ".png").toFile());
                int h = e >= 6 ? 48 : 32;
                int w = e >= 3 && e < 6 ? 48 : 32;
                assertEquals(w + "×" + h, im.getWidth() + "×" + im.getHeight(), "garment " + e);
            }
            try (SafetensorsReader r = SafetensorsReader.open(out.resolve("garments.safetensors"))) {
                assertArrayEquals(new int[] {9, 1, 48, 48}, r.tensor("samples").shape());
                assertArrayEquals(
                        new long[] {32, 32, 32, 32, 32, 32, 32, 48, 32, 48, 32, 48, 48, 32, 48, 32, 48, 32},
                        r.tensor("samples.sizes").toLongArray());
            }
        }
    }

    @Test
    void sizesAreCheckedWhereTheyAreGiven() throws Exception {
        CompilationException notPacked = assertThrows(
                CompilationException.class,
                () -> Tessera.compile(script("a", "DiT", "[1]", "sizes = [[32, 48]]"), CompileOptions.defaults()));
        assertTrue(notPacked.getMessage().contains("DiT takes one size"), notPacked.getMessage());
        CompilationException noSizes = assertThrows(
                CompilationException.class,
                () -> Tessera.compile(script("b", "PackedDiT", "[1]", ""), CompileOptions.defaults()));
        assertTrue(
                noSizes.getMessage().contains("PackedDiT is a packed model: give each sample's size"),
                noSizes.getMessage());
        CompilationException odd = assertThrows(
                CompilationException.class,
                () -> Tessera.compile(
                        script("c", "PackedDiT", "[1, 2]", "sizes = [[32, 32], [32, 30]]"), CompileOptions.defaults()));
        assertTrue(odd.getMessage().contains("sample 1 is 32×30, not a whole number of 4×4 patches"), odd.getMessage());
        CompilationException count = assertThrows(
                CompilationException.class,
                () -> Tessera.compile(
                        script("d", "PackedDiT", "[1, 2, 3]", "sizes = [[32, 32], [32, 48]]"),
                        CompileOptions.defaults()));
        assertTrue(count.getMessage().contains("sizes gives 2 sizes for 3 classes"), count.getMessage());
        CompilationException fit = assertThrows(
                CompilationException.class,
                () -> Tessera.compile(
                        script("e", "PackedDiT", "[1]", "sizes = [[32, 48]]\npack = 64"), CompileOptions.defaults()));
        assertTrue(fit.getMessage().contains("a sample of 96 tokens does not fit rows of pack = 64"), fit.getMessage());
    }
}
