package org.tessera.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessera.dsl.CompilationException;
import org.tessera.engine.diffusion.Parameterization;
import org.tessera.engine.diffusion.VarianceType;

/** A model's contract decides how it is sampled; nothing is guessed from its output's shape. */
class ContractTest {
    private static final String TINY =
            "DiT(input_size = 8, patch_size = 4, in_channels = 4, hidden_size = 32, depth = 1,"
                    + " num_heads = 2, num_classes = 10";

    private static Pipeline compile(Path dir, String script) throws Exception {
        Path file = dir.resolve("p.tess");
        Files.writeString(file, script);
        return Tessera.compile(file, CompileOptions.defaults().withThreads(1).withDevice("cpu"));
    }

    private static String sampling(String model, String extra) {
        return "import \"dit.tess\"\n" + extra + "pipeline p {\n    model = " + model
                + "\n    weights = random(seed = 3)\n"
                + "    sampler = ddpm(steps = 2)\n    guidance = none\n    output \"s.safetensors\" = tensors(samples)\n}\n";
    }

    @Test
    void ditWithoutLearnedSigmaSamplesWithBetaAsItsVariance(@TempDir Path dir) throws Exception {
        // DiT's create_diffusion: FIXED_LARGE unless sigma_small; the posterior variance was used here before.
        try (Pipeline p = compile(dir, sampling(TINY + ", learn_sigma = false)", ""))) {
            assertEquals(VarianceType.FIXED_LARGE, p.diffusion().varianceType());
            assertEquals(Parameterization.EPSILON, p.diffusion().parameterization());
            assertEquals(4, p.sample(SampleRequest.seed(1)).samples().size(1));
        }
    }

    /**
     * DiT's label table has the null row only when class_dropout_prob > 0 (the reference's
     * LabelEmbedder), so without it the model has no null label: it samples unguided, guidance is
     * an error naming why, and training keeps every label (it drew the missing row before).
     */
    @Test
    void aDitWithoutLabelDropoutHasNoNullLabel(@TempDir Path dir) throws Exception {
        String model = TINY + ", learn_sigma = false, class_dropout_prob = 0.0)";
        try (Pipeline p = compile(dir, sampling(model, ""))) {
            assertEquals(4, p.sample(SampleRequest.seed(1)).samples().size(1));
        }
        CompilationException e = assertThrows(
                CompilationException.class,
                () -> compile(dir, sampling(model, "").replace("guidance = none", "guidance = cfg(scale = 2.0)")));
        assertTrue(e.getMessage().contains("no null_label"), e.getMessage());
        try (Pipeline p = compile(
                dir,
                sampling(TINY + ", learn_sigma = false)", "")
                        .replace("guidance = none", "guidance = cfg(scale = 2.0)"))) {
            assertEquals(4, p.sample(SampleRequest.seed(1)).samples().size(1));
        }
    }

    @Test
    void aContractCanDeclareAnotherPrediction(@TempDir Path dir) throws Exception {
        String model = """
                model VNet() {
                    sub net = DiT(input_size = 8, patch_size = 4, in_channels = 4, hidden_size = 32, depth = 1,
                                  num_heads = 2, num_classes = 10, learn_sigma = false)
                    contract {
                        timestep = t
                        latent = x
                        label = y
                        predicts = "v"
                        variance = "fixed_small"
                    }
                    forward(x: [B, 4, 8, 8], t: [B], y: i64([B])) {
                        return net(x, t, y)
                    }
                }
                """;
        try (Pipeline p = compile(dir, sampling("VNet()", model))) {
            assertEquals(Parameterization.V, p.diffusion().parameterization());
            assertEquals(VarianceType.FIXED_SMALL, p.diffusion().varianceType());
        }
    }

    /** Latte takes another target as DiT does, in each of its conditionings; ε by default, as the reference. */
    @Test
    void latteTakesATarget(@TempDir Path dir) throws Exception {
        for (String extras : new String[] {"extras = 2", "extras = 1"}) {
            String latte = "Latte(input_size = 8, patch_size = 4, in_channels = 1, hidden_size = 32, depth = 2,"
                    + " num_heads = 2, num_frames = 3, num_classes = 10, learn_sigma = false, " + extras;
            try (Pipeline p =
                    compile(dir, sampling(latte + ", predicts = \"v\")", "").replace("dit.tess", "latte.tess"))) {
                assertEquals(Parameterization.V, p.diffusion().parameterization(), extras);
                assertEquals(3, p.sample(SampleRequest.seed(1)).samples().size(1));
            }
            try (Pipeline p = compile(dir, sampling(latte + ")", "").replace("dit.tess", "latte.tess"))) {
                assertEquals(Parameterization.EPSILON, p.diffusion().parameterization(), extras);
            }
        }
    }

    /** Temporal layers over a v-prediction image DiT sample as v-prediction: the target is the image model's. */
    @Test
    void videoLdmTakesItsImageModelsTarget(@TempDir Path dir) throws Exception {
        String video = "VideoLDMDiT(input_size = 8, patch_size = 4, in_channels = 1, hidden_size = 32, depth = 1,"
                + " num_heads = 2, num_frames = 3, num_classes = 10, learn_sigma = false";
        String script = sampling(video + ", predicts = \"v\")", "").replace("dit.tess", "video.tess");
        try (Pipeline p = compile(dir, script)) {
            assertEquals(Parameterization.V, p.diffusion().parameterization());
            assertEquals(3, p.sample(SampleRequest.seed(1)).samples().size(1));
        }
        try (Pipeline p = compile(dir, sampling(video + ")", "").replace("dit.tess", "video.tess"))) {
            assertEquals(Parameterization.EPSILON, p.diffusion().parameterization());
        }
    }

    @Test
    void samplingAModelWithoutAContractIsAnErrorAtTheModel(@TempDir Path dir) {
        String model = "model Bare() {\n    forward(x: [B, 4, 8, 8], t: [B]) {\n        return x\n    }\n}\n";
        CompilationException e =
                assertThrows(CompilationException.class, () -> compile(dir, sampling("Bare()", model)));
        assertTrue(e.getMessage().contains("p.tess:8:13: error: Bare declares no contract"), e.getMessage());
    }

    @Test
    void anOutputThatContradictsTheContractIsAnError(@TempDir Path dir) {
        String model = """
                model Liar() {
                    contract {
                        latent = x
                        timestep = t
                        variance = "learned_range"
                    }
                    forward(x: [B, 4, 8, 8], t: [B]) {
                        return x
                    }
                }
                """;
        CompilationException e =
                assertThrows(CompilationException.class, () -> compile(dir, sampling("Liar()", model)));
        assertTrue(
                e.getMessage()
                        .contains("Liar returns [1, 4, 8, 8] for a latent [1, 4, 8, 8], but its contract"
                                + " (variance learned_range) says [1, 8, 8, 8]"),
                e.getMessage());
    }

    @Test
    void contractEntriesAreChecked(@TempDir Path dir) throws Exception {
        String model = """
                model Odd() {
                    contract {
                        latent = x
                        timestep = s
                        predict = "eps"
                    }
                    forward(x: [B, 4, 8, 8], t: [B]) {
                        return x
                    }
                }
                """;
        Path file = dir.resolve("odd.tess");
        Files.writeString(file, model);
        String text = Tessera.check(java.util.List.of(file)).rendered();
        assertTrue(text.contains("odd.tess:4:20: error: contract: timestep must name a forward input (x, t)"), text);
        assertTrue(
                text.contains("odd.tess:5:9: error: unknown contract entry 'predict'; did you mean 'predicts'?"), text);
    }

    @Test
    void guidanceNeedsALabelAndANullLabelAndIsRefusedAtCompileTime(@TempDir Path dir) {
        String model = """
                model Unlabelled() {
                    contract {
                        latent = x
                        timestep = t
                    }
                    forward(x: [B, 4, 8, 8], t: [B]) {
                        return x
                    }
                }
                """;
        String script = sampling("Unlabelled()", model).replace("guidance = none", "guidance = cfg(scale = 2.0)");
        CompilationException e = assertThrows(CompilationException.class, () -> compile(dir, script));
        assertTrue(
                e.getMessage()
                        .contains("guidance needs a model whose contract has a label and a null_label;"
                                + " this one has no label"),
                e.getMessage());
    }

    @Test
    void theVarianceMustLieOnTheSplitAxis(@TempDir Path dir) {
        // split_axis 2 (Latte's video layout) with the variance's channels doubled on axis 1 instead
        String model = """
                model Sideways() {
                    contract {
                        latent = x
                        timestep = t
                        variance = "learned_range"
                        split_axis = 2
                    }
                    forward(x: [B, 4, 8, 8], t: [B]) {
                        return concat([x, x], dim = 1)
                    }
                }
                """;
        CompilationException e =
                assertThrows(CompilationException.class, () -> compile(dir, sampling("Sideways()", model)));
        assertTrue(e.getMessage().contains("Sideways returns [1, 8, 8, 8] for a latent [1, 4, 8, 8]"), e.getMessage());
        assertTrue(e.getMessage().contains("says [1, 4, 16, 8]"), e.getMessage());
    }
}
