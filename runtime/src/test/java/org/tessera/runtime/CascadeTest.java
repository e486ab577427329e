package org.tessera.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessera.dsl.CompilationException;
import org.tessera.engine.diffusion.StepCallback;
import org.tessera.engine.parallel.WorkerPool;
import org.tessera.engine.random.RandomStream;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Tensor;
import org.tessera.testing.RepoFiles;

/** samples/cascade-tiny.tess: a base model whose upsampled samples condition a super-resolution model. */
class CascadeTest {
    private static Pipeline cascade;

    @BeforeAll
    static void compile() {
        cascade = Tessera.compile(
                RepoFiles.sample("cascade-tiny.tess"),
                CompileOptions.defaults()
                        .withThreads(2)
                        .withDevice("cpu")
                        .withOverrides(Map.of("base.sampler", "ddim(steps = 3)", "sr.sampler", "ddim(steps = 3)")));
    }

    @AfterAll
    static void close() {
        cascade.close();
    }

    @Test
    void runsBothModelsAndTheUpsamplingBetweenThem() {
        PipelineResult r = cascade.runStages(SampleRequest.seed(7), StepCallback.NONE);
        assertEquals(List.of("base", "low", "sr"), r.names());
        Tensor base = r.get("base");
        Tensor low = r.get("low");
        assertArrayEquals(new int[] {2, 4, 8, 8}, base.shape());
        assertArrayEquals(new int[] {2, 4, 16, 16}, low.shape());
        assertArrayEquals(new int[] {2, 4, 16, 16}, r.get("sr").shape());
        for (int n = 0; n < 2; n++) {
            for (int c = 0; c < 4; c++) {
                for (int y = 0; y < 16; y++) {
                    for (int x = 0; x < 16; x++) {
                        assertEquals(base.getFloat(n, c, y / 2, x / 2), low.getFloat(n, c, y, x));
                    }
                }
            }
        }
        assertEquals(List.of("base", "low", "sr"), cascade.stageNames());
        assertEquals(7, cascade.sample(SampleRequest.seed(7)).seed(), "the run's seed, which reproduces it");
        assertArrayEquals(
                r.get("sr").toFloatArray(),
                cascade.sample(SampleRequest.seed(7)).samples().toFloatArray());
    }

    @Test
    void theSuperResolutionStageReadsItsCondition() {
        // Another x_T for the base changes only the condition of the second stage: its own noise
        // comes from the same derived seed, so any difference is the condition's doing.
        Tensor xT = Tensor.zeros(DType.F32, 2, 4, 8, 8);
        try (WorkerPool pool = new WorkerPool(1)) {
            new RandomStream(99, 0).fillNormal(xT, pool);
        }
        PipelineResult a = cascade.runStages(SampleRequest.seed(7), StepCallback.NONE);
        PipelineResult b = cascade.runStages(SampleRequest.seed(7).withStartNoise(xT), StepCallback.NONE);
        assertFalse(java.util.Arrays.equals(
                a.get("base").toFloatArray(), b.get("base").toFloatArray()));
        assertFalse(
                java.util.Arrays.equals(a.get("sr").toFloatArray(), b.get("sr").toFloatArray()));
        assertArrayEquals(
                a.get("sr").toFloatArray(),
                cascade.runStages(SampleRequest.seed(7), StepCallback.NONE)
                        .get("sr")
                        .toFloatArray(),
                "reproducible");
    }

    @Test
    void stagesAnnounceThemselvesToTheCallback() {
        StringBuilder seen = new StringBuilder();
        cascade.runStages(SampleRequest.seed(1), new StepCallback() {
            @Override
            public void onStep(int step, int total, int timestep, Tensor x, Tensor x0) {
                seen.append(step);
            }

            @Override
            public void onStage(String stage, int index, int count) {
                seen.append('[')
                        .append(stage)
                        .append(' ')
                        .append(index)
                        .append('/')
                        .append(count)
                        .append(']');
            }
        });
        assertEquals("[base 0/2]012[sr 1/2]012", seen.toString());
    }

    @Test
    void writesItsOutputs(@TempDir Path out) throws Exception {
        List<Path> files = cascade.execute(out, 3, StepCallback.NONE);
        assertEquals(List.of(out.resolve("base.safetensors"), out.resolve("sr.safetensors")), files);
    }

    private static String staged(String stages) {
        return "import \"dit.tess\"\npipeline p {\n" + stages + "    output \"o.safetensors\" = tensors(a)\n}\n";
    }

    private static final String TINY =
            "DiT(input_size = 8, patch_size = 4, hidden_size = 32, depth = 1, num_heads = 2," + " num_classes = 10)";

    @Test
    void stageErrorsAreReportedAtTheStage(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("s.tess");
        Files.writeString(
                file,
                staged("    let a = sample(model = " + TINY + ", weights = random(), condition = b)\n"
                        + "    let b = upsample(a, 2)\n    let c = upscale(a, 2)\n    model = " + TINY + "\n"));
        CompilationException e = assertThrows(
                CompilationException.class, () -> Tessera.compile(file).close());
        String text = e.getMessage();
        assertTrue(text.contains("s.tess:3:159: error: 'b' is not an earlier stage (no stage comes before it)"), text);
        assertTrue(
                text.contains(
                        "s.tess:5:13: error: a stage is sample(...), train(...), decode(stage, model = ..., weights = ...), encode(...), classify(stage, model = ..., weights = ...), upsample("),
                text);
        assertTrue(text.contains("s.tess:6:13: error: 'model' belongs in a stage in a pipeline of stages"), text);
    }

    @Test
    void aConditionedModelNeedsItsCondition(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("sr.tess");
        Files.writeString(
                file,
                "import \"dit.tess\"\npipeline p {\n    model = DiTSR(input_size = 8, patch_size = 4,"
                        + " hidden_size = 32, depth = 1, num_heads = 2, num_classes = 10)\n    weights = random()\n"
                        + "    output \"o.safetensors\" = tensors(samples)\n}\n");
        CompilationException e = assertThrows(
                CompilationException.class, () -> Tessera.compile(file).close());
        assertTrue(
                e.getMessage()
                        .contains("DiTSR is conditioned on [low] (its contract's condition); a one-stage"
                                + " pipeline has nothing to give it"),
                e.getMessage());
    }
}
