package org.tessera.dsl.sema;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.tessera.dsl.ast.Ast;
import org.tessera.dsl.diag.Diagnostics;
import org.tessera.dsl.parser.TesseraParserFacade;
import org.tessera.dsl.pipeline.PipelineSettings;

/** Pipeline settings: what is accepted, the defaults, and the errors at the setting. */
class SettingsReaderTest {
    private Diagnostics diagnostics = new Diagnostics();

    private SettingsReader.Result read(String settings, Map<String, String> overrides) {
        String text = "pipeline p {\n    model = M()\n    weights = random()\n" + settings
                + "    output \"s.safetensors\" = tensors(samples)\n}\n";
        Ast.SourceFile f = TesseraParserFacade.parse("p.tess", text, diagnostics);
        diagnostics.addSource("p.tess", text);
        return new SettingsReader(diagnostics, Path.of("/tmp"), overrides)
                .read((Ast.PipelineDecl) f.declarations().get(0));
    }

    private SettingsReader.Result read(String settings) {
        return read(settings, Map.of());
    }

    @Test
    void defaultsAreDitsSampler() {
        PipelineSettings.Sampling s = read("").settings().sampling();
        assertEquals("linear", s.schedule());
        assertEquals(1000, s.scheduleSteps());
        assertEquals("ddim", s.sampler());
        assertEquals(50, s.steps());
        assertNull(s.spacing());
        assertEquals(1.0, s.guidanceScale());
    }

    @Test
    void spacingGivesTheStepCount() {
        PipelineSettings.Sampling s =
                read("    sampler = ddim(spacing = \"ddim25\")\n").settings().sampling();
        assertEquals("ddim25", s.spacing());
        assertEquals(25, s.steps());
        assertEquals(
                45,
                read("    sampler = ddpm(spacing = \"10,15,20\")\n")
                        .settings()
                        .sampling()
                        .steps());
    }

    @Test
    void spacingAndStepsMustAgree() {
        assertNull(read("    sampler = ddim(steps = 10, spacing = \"ddim25\")\n"));
        assertTrue(
                diagnostics.render().contains("p.tess:4:42: error: spacing \"ddim25\" keeps 25 steps, but steps = 10"),
                diagnostics.render());
    }

    @Test
    void anInvalidSpacingIsReportedAtIt() {
        assertNull(read("    sampler = ddim(spacing = \"ddim999\")\n"));
        assertTrue(diagnostics.render().contains("p.tess:4:30: error: spacing \"ddim999\":"), diagnostics.render());
    }

    @Test
    void unknownSchedulesAreNamedWithTheKnownOnes() {
        assertNull(read("    schedule = cosin(1000)\n"));
        String text = diagnostics.render();
        assertTrue(text.contains("p.tess:4:16: error: unknown schedule 'cosin'; did you mean 'cosine'?"), text);
        assertTrue(text.contains("(linear, cosine, scaled_linear, sqrt_linear, flow)"), text);
    }

    @Test
    void anEmptyScheduleIsNotAStepRange() {
        assertNull(read("    schedule = linear(0)\n"));
        String text = diagnostics.render();
        assertTrue(text.contains("p.tess:4:23: error: a schedule's steps must be in 1..100,000, got 0"), text);
        assertFalse(text.contains("sampler steps"), text); // not a second error about the sampler
    }

    @Test
    void absurdCountsAreErrorsAtTheirPlaceNotTruncated() {
        // 2^32 + 1 once became 1 through an int cast; 10^9 steps would run for days.
        assertNull(read("    schedule = linear(4294967297)\n"));
        assertTrue(diagnostics.render().contains("a schedule's steps must be in 1..100,000, got 4294967297"));
        diagnostics = new Diagnostics();
        assertNull(read("    sampler = ddim(steps = 1000000000)\n"));
        assertTrue(
                diagnostics
                        .render()
                        .contains("p.tess:4:28: error: sampler steps must be in 1..100,000, got 1000000000"),
                diagnostics.render());
    }

    @Test
    void overridesReplaceSettings() {
        SettingsReader.Result r =
                read("    sampler = ddim(steps = 50)\n", Map.of("sampler", "ddpm(steps = 7)", "seed", "3"));
        assertNotNull(r, diagnostics.render());
        assertEquals("ddpm", r.settings().sampling().sampler());
        assertEquals(7, r.settings().sampling().steps());
        assertEquals(3, r.settings().seed());
    }

    @Test
    void unknownSettingsSuggestTheNearestOne() {
        assertNull(read("    sampeler = ddim()\n"));
        assertTrue(
                diagnostics.render().contains("unknown pipeline setting 'sampeler'; did you mean 'sampler'?"),
                diagnostics.render());
    }

    @Test
    void theModelCallIsKeptForInstantiation() {
        SettingsReader.Result r = read("");
        assertEquals("M", r.model().dotted());
        assertEquals(2, r.model().span().line());
    }

    @Test
    void classListsAreWrittenAsPythonWouldWriteThem() {
        assertArrayEquals(
                new long[] {0, 1, 2, 0, 1, 2},
                read("    classes = range(3) * 2\n").settings().sampling().classes());
        assertArrayEquals(
                new long[] {7, 1, 2},
                read("    classes = [7] + range(1, 3)\n").settings().sampling().classes());
        assertNull(read("    classes = range(10) * 1000000\n"));
        assertTrue(
                diagnostics.render().contains("p.tess:4:15: error: classes would have more than 1000000 items"),
                diagnostics.render());
        diagnostics = new Diagnostics();
        assertNull(read("    classes = range(3, 3)\n"));
        assertTrue(diagnostics.render().contains("classes must be a non-empty list of integers"), diagnostics.render());
        diagnostics = new Diagnostics();
        assertNull(read("    classes = 3\n"));
        assertTrue(
                diagnostics.render().contains("p.tess:4:15: error: classes must be a list of integers: [207, 360],"),
                diagnostics.render());
    }

    @Test
    void gridsTakeColumnsAndAScaleOtherOutputsDoNot() {
        SettingsReader.Result r = read("    output \"g.png\" = grid(samples, columns = 10, scale = 4)\n");
        PipelineSettings.Output grid = r.settings().outputs().get(0);
        assertEquals(10, grid.columns());
        assertEquals(4, grid.scale());
        assertEquals(0, r.settings().outputs().get(1).columns());
        assertNull(read("    output \"g.png\" = grid(samples, scale = 40)\n"));
        assertTrue(diagnostics.render().contains("scale must be in 1..16, got 40"), diagnostics.render());
        diagnostics = new Diagnostics();
        assertNull(read("    output \"t.safetensors\" = tensors(samples, columns = 2)\n"));
        assertTrue(
                diagnostics.render().contains("tensors(...) takes result names, e.g. tensors(samples)"),
                diagnostics.render());
    }

    private SettingsReader.Result train(String args) {
        String text = "pipeline p {\n    let c = train(model = M(), data = idx(\"i\", labels = \"l\")" + args
                + ", weights = random())\n    output \"c.safetensors\" = weights(c)\n}\n";
        Ast.SourceFile f = TesseraParserFacade.parse("p.tess", text, diagnostics);
        diagnostics.addSource("p.tess", text);
        return new SettingsReader(diagnostics, Path.of("/tmp"), Map.of())
                .read((Ast.PipelineDecl) f.declarations().get(0));
    }

    private SettingsReader.Result trainWith(String weights, String output) {
        String text = "pipeline p {\n    let c = train(model = M(), data = idx(\"i\", labels = \"l\"),\n"
                + "        weights = " + weights + ")\n    output \"c.safetensors\" = " + output + "\n}\n";
        Ast.SourceFile f = TesseraParserFacade.parse("p.tess", text, diagnostics);
        diagnostics.addSource("p.tess", text);
        return new SettingsReader(diagnostics, Path.of("/tmp"), Map.of())
                .read((Ast.PipelineDecl) f.declarations().get(0));
    }

    /** init(from, rename) and weights(stage, ema = false): what they give, and the errors at the argument. */
    @Test
    void renamesAndTheFinalWeightsAreReadWithTheirErrorsAtTheArgument() {
        SettingsReader.Result r = trainWith(
                "init(seed = 0, from = \"image.safetensors\", rename = [[\"blocks.1.\", \"blocks.2.\"],"
                        + " [\"blocks.2.\", \"blocks.4.\"]])",
                "weights(c, ema = false)");
        assertNotNull(r, diagnostics.render());
        PipelineSettings.TrainStage stage =
                (PipelineSettings.TrainStage) r.settings().stages().get(0);
        PipelineSettings.RandomWeights w = (PipelineSettings.RandomWeights) stage.weights();
        assertEquals(Path.of("/tmp/image.safetensors"), w.from());
        assertEquals(2, w.rename().size());
        assertEquals("blocks.4.x", w.rename().get(1).apply("blocks.2.x"));
        assertNull(w.rename().get(0).apply("blocks.2.x"));
        assertFalse(r.settings().outputs().get(0).averaged());
        assertTrue(trainWith("init(seed = 0)", "weights(c)")
                .settings()
                .outputs()
                .get(0)
                .averaged());

        assertNull(trainWith("init(seed = 0, rename = [[\"a.\", \"b.\"]])", "weights(c)"));
        assertTrue(
                diagnostics
                        .render()
                        .contains("p.tess:3:43: error: rename maps the keys of init(from = ...): give the file"),
                diagnostics.render());
        diagnostics = new Diagnostics();
        assertNull(trainWith("init(from = \"f.safetensors\", rename = [[\"a.\", \"b.\"], [\"c.\"]])", "weights(c)"));
        assertTrue(
                diagnostics.render().contains("p.tess:3:72: error: rename takes pairs of key prefixes"),
                diagnostics.render());
        diagnostics = new Diagnostics();
        assertNull(trainWith("init(seed = 0)", "weights(c, ema = 1)"));
        assertTrue(
                diagnostics
                        .render()
                        .contains("p.tess:4:47: error: ema = true (the moving average, the default) or false"),
                diagnostics.render());
    }

    @Test
    void aClassifierTrainsWithTestDataAndNoDiffusionSettings() {
        SettingsReader.Result r = train(", objective = \"classify\", test = idx(\"ti\", labels = \"tl\", pad = 2)");
        assertNotNull(r, diagnostics.render());
        PipelineSettings.Training t =
                ((PipelineSettings.TrainStage) r.settings().stages().get(0)).training();
        assertTrue(t.classifies());
        PipelineSettings.IdxData test = (PipelineSettings.IdxData) t.test();
        assertEquals(Path.of("/tmp/ti"), test.images());
        assertEquals(2, test.pad());
        assertFalse(((PipelineSettings.TrainStage) train("").settings().stages().get(0))
                .training()
                .classifies());
        PipelineSettings.Training flow = ((PipelineSettings.TrainStage) train(", schedule = flow(500, shift = 2.0)")
                        .settings()
                        .stages()
                        .get(0))
                .training();
        assertTrue(flow.isFlow());
        assertEquals(500, flow.scheduleSteps());
        assertEquals(2.0, flow.shift());

        assertNull(train(", objective = \"classify\", schedule = linear(10)"));
        assertTrue(
                diagnostics
                        .render()
                        .contains("p.tess:2:98: error: schedule is a setting of diffusion training; a classifier"),
                diagnostics.render());
        diagnostics = new Diagnostics();
        assertNull(train(", test = idx(\"ti\", labels = \"tl\")"));
        assertTrue(diagnostics.render().contains("test data measures a classifier"), diagnostics.render());
        diagnostics = new Diagnostics();
        assertNull(train(", objective = \"hybird\""));
        assertTrue(
                diagnostics.render().contains("objective is \"diffusion\" (the default: L_simple, with the"),
                diagnostics.render());
    }

    @Test
    void minSnrWeightingIsADiffusionSetting() {
        PipelineSettings.Training t = ((PipelineSettings.TrainStage)
                        train(", snr_gamma = 5.0").settings().stages().get(0))
                .training();
        assertEquals(5.0, t.snrGamma());
        assertEquals(
                0.0,
                ((PipelineSettings.TrainStage) train("").settings().stages().get(0))
                        .training()
                        .snrGamma());
        assertNull(train(", snr_gamma = 0"));
        assertTrue(diagnostics.render().contains("snr_gamma must be positive"), diagnostics.render());
        diagnostics = new Diagnostics();
        assertNull(train(", snr_gamma = 5, schedule = flow(1000)"));
        assertTrue(diagnostics.render().contains("a flow's training has no such weighting"), diagnostics.render());
        diagnostics = new Diagnostics();
        assertNull(train(", snr_gamma = 5, objective = \"classify\""));
        assertTrue(diagnostics.render().contains("snr_gamma is a setting of diffusion training"), diagnostics.render());
    }
}
