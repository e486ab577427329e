package org.tessera.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessera.engine.device.InsufficientMemoryException;
import org.tessera.engine.device.MemoryBudget;

/** A model that cannot fit is refused before its weights or buffers are allocated, by run and by check. */
class MemoryBudgetTest {
    @TempDir
    Path dir;

    @AfterEach
    void clearLimit() {
        System.clearProperty("tessera.memory.limit");
    }

    private Path script() throws Exception {
        // DiT-S/8 at 64×64: 33 M parameters (about 126 MiB of f32 weights), with random weights.
        Path f = dir.resolve("s.tess");
        Files.writeString(
                f,
                "import \"dit.tess\"\npipeline p {\n    model = DiT_S_8(input_size = 64)\n"
                        + "    weights = random(seed = 1)\n    sampler = ddim(steps = 2)\n"
                        + "    output \"s.safetensors\" = tensors(samples)\n}\n");
        return f;
    }

    @Test
    void runRefusesWhatCannotFitNamingTheSizes() throws Exception {
        System.setProperty("tessera.memory.limit", "64M");
        InsufficientMemoryException e =
                assertThrows(InsufficientMemoryException.class, () -> Tessera.compile(script()));
        String m = e.getMessage();
        assertTrue(m.startsWith(dir.resolve("s.tess") + ":3:13: DiT at x [1, 4, 64, 64]"), m);
        assertTrue(
                m.matches(".*\\(weights 1[0-9]{2}\\.\\d MiB, buffers .*\\): about 1[0-9]{2}\\.\\d MiB needed,"
                        + " but only 64\\.0 MiB of memory is available \\(the limit set by TESSERA_MEMORY_LIMIT\\)"),
                m);
    }

    @Test
    void checkRefusesWeightsThatCannotFit() throws Exception {
        System.setProperty("tessera.memory.limit", "64M");
        CheckReport r = Tessera.check(List.of(script()));
        assertEquals(1, r.errors(), r.rendered());
        assertTrue(r.rendered().contains("s.tess:3:13: error: DiT's weights: about 1"), r.rendered());
    }

    @Test
    void withEnoughMemoryBothPass() throws Exception {
        System.setProperty("tessera.memory.limit", "1G");
        assertEquals(0, Tessera.check(List.of(script())).errors());
        Tessera.compile(script()).close();
    }

    @Test
    void theLimitIsReadAsASize() {
        System.setProperty("tessera.memory.limit", "1.5G");
        assertEquals(3L << 29, MemoryBudget.available().orElseThrow());
        System.setProperty("tessera.memory.limit", "lots");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, MemoryBudget::available);
        assertTrue(e.getMessage().contains("TESSERA_MEMORY_LIMIT must be a size such as 8G or 512M, got 'lots'"));
    }
}
