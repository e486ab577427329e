package org.tessera.dsl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessera.dsl.diag.Diagnostics;

/**
 * The stdlib's DiT declares its null label and training's label dropout as the reference's
 * LabelEmbedder has them: the null row (index num_classes) exists only when class_dropout_prob > 0,
 * and labels are dropped at that rate.
 */
class LabelContractTest {
    private static ModelContract contract(Path dir, String dropout) throws Exception {
        Path file = dir.resolve("p.tess");
        Files.writeString(file, """
                import "dit.tess"
                pipeline p {
                    model = DiT(input_size = 8, patch_size = 4, in_channels = 4, hidden_size = 32, depth = 1,
                                num_heads = 2, num_classes = 10%s)
                    weights = random(seed = 1)
                    sampler = ddim(steps = 2)
                    guidance = none
                    output "s.safetensors" = tensors(samples)
                }
                """.formatted(dropout));
        PipelineDefinition def = Script.load(file).pipeline("p", Map.of());
        return def.model(def.settings().stages().getFirst().name()).contract();
    }

    @Test
    void theNullLabelAndItsDropoutFollowClassDropoutProb(@TempDir Path dir) throws Exception {
        ModelContract standard = contract(dir, "");
        assertEquals(10L, standard.nullLabel());
        assertEquals(0.1, standard.labelDropout());
        ModelContract more = contract(dir, ", class_dropout_prob = 0.25");
        assertEquals(10L, more.nullLabel());
        assertEquals(0.25, more.labelDropout());
        ModelContract none = contract(dir, ", class_dropout_prob = 0.0");
        assertNull(none.nullLabel());
    }

    @Test
    void aNullLabelBelowMinusOneOrADropoutOutsideZeroToOneIsAnError(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("m.tess");
        Files.writeString(file, """
                model M() {
                    contract {
                        latent = x
                        timestep = t
                        label = y
                        null_label = -2
                        label_dropout = 1.5
                    }
                    forward(x: [B, 4], t: [B], y: i64([B])) {
                        return x
                    }
                }
                """);
        Diagnostics d = Script.check(List.of(file));
        String text = d.render();
        assertTrue(text.contains("m.tess:6:22: error: null_label must be a non-negative int, or -1 for none"), text);
        assertTrue(text.contains("m.tess:7:25: error: label_dropout must be a probability"), text);
    }
}
