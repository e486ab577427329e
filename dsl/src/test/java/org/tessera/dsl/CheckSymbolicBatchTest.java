package org.tessera.dsl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessera.dsl.diag.Diagnostics;

/** {@code tessera check} keeps the batch dimension symbolic: a shape hard-coded for one batch size is caught. */
class CheckSymbolicBatchTest {

    @Test
    void aHardCodedBatchIsReportedWithB(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("m.tess");
        Files.writeString(file, """
                model M() {
                    forward(x: [B, 4, 4]) {
                        return reshape(x, [2, 16])
                    }
                }
                """);
        Diagnostics d = Script.check(List.of(file));
        String text = d.render();
        assertEquals(1, d.errorCount(), text);
        assertTrue(text.contains("m.tess:3:16: error: reshape"), text);
        assertTrue(text.contains("reshape: [B, 4, 4] (16·B elements) cannot become [2, 16]"), text);
    }

    @Test
    void aBatchFreeModelChecksClean(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("ok.tess");
        Files.writeString(file, """
                model M() {
                    forward(x: [B, 4, 4]) {
                        return reshape(x, [-1, 16])
                    }
                }
                """);
        Diagnostics d = Script.check(List.of(file));
        assertFalse(d.hasErrors(), d.render());
    }

    @Test
    void aBlockWithDefaultsIsCheckedEvenIfNoModelUsesIt(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("b.tess");
        Files.writeString(file, """
                block Mixer(width: int = 8) {
                    weight w: [width, width]
                    forward(x: [B, 4]) {
                        return linear(x, w)
                    }
                }
                block NeedsArgs(width: int) {
                    forward(x: [B, width]) {
                        return x
                    }
                }
                """);
        Diagnostics d = Script.check(List.of(file));
        String text = d.render();
        assertEquals(1, d.errorCount(), text);
        assertTrue(text.contains("b.tess:4:16: error: linear"), text);
    }

    /**
     * A packed model's rows, row length and example count are bound by the engine per batch;
     * check binds them to a stand-in, so the model is shape-checked rather than waved through.
     */
    @Test
    void aPackedModelIsShapeChecked(@TempDir Path dir) throws Exception {
        String model = """
                model P() {
                    contract {
                        latent = x
                        timestep = t
                        packed = 2
                        segments = seg
                        gather = ids
                        positions = pos
                    }
                    forward(x: [R, L, 4], pos: [R, L, 4], ids: i64([R, L]), seg: i64([R, L]), t: [E]) {
                        let c = embedding(unsqueeze(t, 1), ids)
                        return x + pos + %s
                    }
                }
                """;
        Path ok = dir.resolve("ok.tess");
        Files.writeString(ok, model.formatted("c"));
        Diagnostics clean = Script.check(List.of(ok));
        assertEquals(0, clean.size(), clean.render());

        Path bad = dir.resolve("bad.tess");
        Files.writeString(bad, model.formatted("reshape(c, [-1, 4])"));
        Diagnostics d = Script.check(List.of(bad));
        assertEquals(1, d.errorCount(), d.render());
        assertTrue(d.render().contains("bad.tess:12:"), d.render());
    }

    @Test
    void numbersThatAreMultiplesOfTheBoundBatchBecomeB() {
        assertEquals(
                "add: a [B, 4] and b [2·B, 3] at 12:97 in /tmp/junit-194",
                Checker.symbolicBatch("add: a [97, 4] and b [194, 3] at 12:97 in /tmp/junit-194"));
    }
}
