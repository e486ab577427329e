package org.tessera.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessera.engine.io.SafetensorsReader;
import org.tessera.testing.RepoFiles;

/** tessera convert: PyTorch checkpoints (written by torch.save) to safetensors, without Python. */
class ConvertCommandTest {
    private static final Path TORCH = RepoFiles.root().resolve("engine/src/test/resources/torch");

    @TempDir
    Path tmp;

    @Test
    void aTrainingCheckpointBecomesItsEmaWeights() throws Exception {
        Path out = tmp.resolve("ema.safetensors");
        CliRun r = CliRun.of("convert", TORCH.resolve("train.pt").toString(), out.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("4 tensors, 26 parameters (the \"ema\" weights)"), r.out());
        try (SafetensorsReader got = SafetensorsReader.open(out);
                SafetensorsReader want = SafetensorsReader.open(TORCH.resolve("train-ema.safetensors"))) {
            assertEquals(want.names(), got.names());
            for (String n : want.names()) {
                assertArrayEquals(want.tensor(n).toFloatArray(), got.tensor(n).toFloatArray(), n);
            }
            assertEquals("train.pt", got.metadata().get("converted_from"));
        }
    }

    @Test
    void selectPicksAnotherDictAndDtypesAreKept() throws Exception {
        Path out = tmp.resolve("tiny.safetensors");
        CliRun r = CliRun.of("convert", TORCH.resolve("tiny-legacy.pt").toString(), out.toString());
        assertEquals(0, r.code(), r.err());
        try (SafetensorsReader got = SafetensorsReader.open(out)) {
            assertEquals("f16", got.dtype("f16").shortName());
            assertEquals(15, got.names().size());
        }
        CliRun model = CliRun.of(
                "convert",
                TORCH.resolve("train.pt").toString(),
                tmp.resolve("m.safetensors").toString(),
                "--select",
                "model");
        assertEquals(0, model.code(), model.err());
        assertTrue(model.out().contains("(the \"model\" weights)"), model.out());
    }

    @Test
    void aMaliciousCheckpointIsRefusedAndNothingIsWritten() {
        Path out = tmp.resolve("evil.safetensors");
        CliRun r = CliRun.of("convert", TORCH.resolve("evil.pt").toString(), out.toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("refused global posix.system"), r.err());
        assertTrue(Files.notExists(out));
        CliRun wrongName = CliRun.of(
                "convert",
                TORCH.resolve("train.pt").toString(),
                tmp.resolve("x.pt").toString());
        assertEquals(2, wrongName.code());
        assertTrue(wrongName.err().contains("the output must be a .safetensors file"), wrongName.err());
    }
}
