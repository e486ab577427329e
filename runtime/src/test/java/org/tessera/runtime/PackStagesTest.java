package org.tessera.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessera.dsl.CompilationException;
import org.tessera.engine.diffusion.StepCallback;
import org.tessera.engine.io.SafetensorsReader;
import org.tessera.engine.tensor.Tensor;
import org.tessera.testing.RepoFiles;
import org.tessera.testing.TensorDifference;

/**
 * {@code pack} and {@code unpack} as pipeline stages (issue 16, item 5): garments of three sizes
 * (a packed sample stage) and clips (a video model's) packed into shared rows, written, and cut
 * back into exactly what went in; similarity dropping leaves a clip's later frames out and unpack
 * restores them from the frame before.
 */
class PackStagesTest {
    @TempDir
    Path dir;

    /** Garments at three sizes and two 3-frame 16×16 clips of one channel, then {@code extra}. */
    private Path script(String name, String extra) throws Exception {
        String weights =
                RepoFiles.sample("fashion-dit.safetensors").toAbsolutePath().toString();
        return Files.writeString(dir.resolve(name + ".tess"), """
                import "packed.tess"
                import "video.tess"
                pipeline %s {
                    let garments = sample(model = PackedDiT(input_size = 32, patch_size = 4, in_channels = 1,
                                                            hidden_size = 192, depth = 6, num_heads = 6,
                                                            num_classes = 10, learn_sigma = false),
                                          weights = "%s", schedule = linear(1000), sampler = ddim(steps = 2),
                                          classes = [1, 3, 9], sizes = [[32, 32], [32, 48], [48, 32]], pack = 160)
                    let clips = sample(model = VideoDiT(input_size = 16, frames = 3, patch_size = 4, in_channels = 1,
                                                        hidden_size = 48, depth = 1, num_heads = 2, num_classes = 10,
                                                        learn_sigma = false),
                                       weights = random(seed = 1), schedule = linear(1000), sampler = ddim(steps = 2),
                                       classes = [0, 1])
                    %s
                }
                """.formatted(name, weights, extra));
    }

    /** A callback that keeps each stage's report line as "stage: report". */
    private static StepCallback reporter(List<String> reports) {
        return new StepCallback() {
            @Override
            public void onStep(int step, int total, int timestep, Tensor x, Tensor predictedX0) {}

            @Override
            public void onReport(String stage, String report) {
                reports.add(stage + ": " + report);
            }
        };
    }

    private static Map<String, Tensor> run(Path script, StepCallback callback) {
        try (Pipeline p = Tessera.compile(script, CompileOptions.defaults().withThreads(2))) {
            PipelineResult r = p.runStages(SampleRequest.seed(3), callback);
            java.util.LinkedHashMap<String, Tensor> out = new java.util.LinkedHashMap<>();
            r.names().forEach(n -> out.put(n, r.get(n)));
            return out;
        }
    }

    @Test
    void unpackGivesBackWhatWasPacked() throws Exception {
        List<String> reports = new ArrayList<>();
        Map<String, Tensor> r = run(script("round", """
                        let rows = pack([garments, clips], patch = 4, row = 160)
                        let back = unpack(rows)
                        output "rows.safetensors" = tensors(rows)
                        output "back.safetensors" = tensors(back)
                        """), reporter(reports));
        Tensor garments = r.get("garments"); // [3, 1, 48, 48], each at its own size, padded with −1
        Tensor clips = r.get("clips"); // [2, 3, 1, 16, 16]
        Tensor rows = r.get("rows");
        // 64 + 96 + 96 garment tokens and 2 × 48 clip tokens (4×4 patches, 16 features each)
        assertEquals(3, rows.rank());
        assertEquals(16, rows.size(2));
        assertEquals(160, rows.size(1));
        long[] segments = r.get("rows.segments").toLongArray();
        long[] count = new long[5];
        for (long s : segments) {
            if (s >= 0) {
                count[(int) s]++;
            }
        }
        assertArrayEquals(new long[] {64, 96, 96, 48, 48}, count);
        assertEquals(List.of("rows: 5 examples, 352 tokens, in 3 rows of 160: 73.3% full"), reports);
        Tensor back = r.get("back"); // a clip among them: [5, 3, 1, 48, 48]
        assertArrayEquals(new int[] {5, 3, 1, 48, 48}, back.shape());
        for (int f = 0; f < 3; f++) { // an image is a clip of one frame, held
            assertEquals(
                    0.0,
                    TensorDifference.maxAbs(
                            garments,
                            back.slice(0, 0, 3).slice(1, f, f + 1).contiguous().reshape(3, 1, 48, 48)));
        }
        assertEquals(
                0.0,
                TensorDifference.maxAbs(
                        clips,
                        back.slice(0, 3, 5).slice(3, 0, 16).slice(4, 0, 16).contiguous()));
    }

    @Test
    void theRowsAreWrittenWithTheirSegmentsAndPositions(@TempDir Path out) throws Exception {
        Path s = script("written", """
                let rows = pack([clips, garments], patch = 4, row = 256)
                let back = unpack(rows)
                output "rows.safetensors" = tensors(rows)
                output "back.png" = grid(back)
                """);
        try (Pipeline p = Tessera.compile(s, CompileOptions.defaults().withThreads(2))) {
            p.execute(out, 3, StepCallback.NONE);
        }
        try (SafetensorsReader f = SafetensorsReader.open(out.resolve("rows.safetensors"))) {
            assertEquals(List.of("rows", "rows.segments", "rows.positions"), List.copyOf(f.names()));
            assertArrayEquals(new int[] {2, 256, 16}, f.shape("rows"));
            assertArrayEquals(new int[] {2, 256, 3}, f.shape("rows.positions"));
        }
        assertTrue(Files.exists(out.resolve("back.png")));
    }

    /** samples/pack-rows.tess end to end: its packings' reports, its files, and holes where patches dropped. */
    @Test
    void thePackRowsSampleRuns(@TempDir Path out) throws Exception {
        List<String> reports = new ArrayList<>();
        StepCallback reporter = reporter(reports);
        try (Pipeline p = Tessera.compile(
                RepoFiles.sample("pack-rows.tess"),
                CompileOptions.defaults()
                        .withThreads(2)
                        .withOverrides(Map.of("garments.sampler", "ddim(steps = 2)")))) {
            List<Path> files = p.execute(out, 0, reporter);
            assertEquals(3, files.size(), files.toString());
        }
        assertEquals("rows: 9 examples, 768 tokens, in 3 rows of 256: 100.0% full", reports.get(0));
        assertTrue(
                reports.get(1).matches("dropped: 9 examples, \\d+ tokens \\(\\d+ of 192 patches kept, .*"),
                reports.get(1));
    }

    @Test
    void similarityDroppingLeavesLaterFramesOutAndUnpackRestoresThem() throws Exception {
        List<String> reports = new ArrayList<>();
        // cos > −0.999: every patch after a clip's first frame repeats "enough" and is left out
        Map<String, Tensor> r = run(script("similar", """
                        let rows = pack(clips, patch = 4, row = 64, drop = similar(-0.999))
                        let back = unpack(rows)
                        output "back.safetensors" = tensors(back)
                        """), reporter(reports));
        assertEquals(
                List.of("rows: 2 examples, 32 tokens (32 of 96 patches kept, 33.3%), in 1 row of 64: 50.0% full"),
                reports);
        Tensor clips = r.get("clips");
        Tensor back = r.get("back");
        Tensor first = clips.slice(1, 0, 1).contiguous();
        for (int f = 0; f < 3; f++) {
            assertEquals(
                    0.0, TensorDifference.maxAbs(first, back.slice(1, f, f + 1).contiguous()));
        }
    }

    /** The message of the compilation error the garments-and-clips script with {@code stages} gives. */
    private String compileError(String name, String stages) throws Exception {
        Path s = script(name, stages);
        return assertThrows(CompilationException.class, () -> Tessera.compile(s, CompileOptions.defaults()))
                .getMessage();
    }

    @Test
    void packIsCheckedWhereItIsWritten() throws Exception {
        String notStage = compileError(
                "a", "let rows = pack([garmnts], patch = 4, row = 64)\noutput \"r.safetensors\" = tensors(rows)");
        assertTrue(notStage.contains("'garmnts' is not an earlier stage"), notStage);
        String notRows = compileError("b", "let back = unpack(clips)\noutput \"b.safetensors\" = tensors(back)");
        assertTrue(notRows.contains("unpack takes a pack stage; 'clips' is not one"), notRows);
        String drawn = compileError("c", "let rows = pack(clips, patch = 4, row = 64)\noutput \"r.png\" = grid(rows)");
        assertTrue(drawn.contains("'rows' is a pack stage, rows of tokens"), drawn);
        String noRow = compileError("d", "let rows = pack(clips, patch = 4)\noutput \"r.safetensors\" = tensors(rows)");
        assertTrue(noRow.contains("pack takes stages, a patch size and a row length"), noRow);
    }

    @Test
    void anExampleThatDoesNotFitIsNamed() throws Exception {
        Path s = script("fit", """
                let rows = pack([garments, clips], patch = 4, row = 64)
                output "r.safetensors" = tensors(rows)
                """);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> run(s, StepCallback.NONE));
        assertTrue(e.getMessage().startsWith("stage 'rows': example 1 is 96 tokens"), e.getMessage());
        Path odd = script("odd", """
                let rows = pack(garments, patch = 5, row = 256)
                output "r.safetensors" = tensors(rows)
                """);
        IllegalArgumentException o = assertThrows(IllegalArgumentException.class, () -> run(odd, StepCallback.NONE));
        assertTrue(
                o.getMessage().startsWith("stage 'rows': example 0 [1, 32, 32] is not a whole number of 1×5×5"),
                o.getMessage());
    }
}
