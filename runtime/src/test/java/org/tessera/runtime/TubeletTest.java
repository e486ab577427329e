package org.tessera.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SequencedMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessera.dsl.CompilationException;
import org.tessera.engine.io.SafetensorsWriter;
import org.tessera.engine.random.RandomStream;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Tensor;

/** The stdlib's tubelets (video.tess): embed then unembed is the identity, exactly, for a one-hot kernel. */
class TubeletTest {
    private static final String MODEL = """
            import "video.tess"

            model Tubelets(frames: int = 4, size: int = 6, tubelet: int = 2, patch: int = 3, channels: int = 2) {
                sub embed = TubeletEmbed(frames, size, tubelet, patch, channels, channels * tubelet * patch * patch)
                sub unembed = TubeletUnembed(frames, size, tubelet, patch, channels)
                forward(x: [B, channels, frames, size, size]) {
                    return unembed(embed(x))
                }
            }

            pipeline roundtrip {
                model   = Tubelets(%s)
                weights = "w.safetensors"
                inputs  = load("x.safetensors", x = "x")
                output "out.safetensors" = tensors(out)
            }
            """;

    private static Path script(Path dir, String args, int frames) throws Exception {
        int c = 2;
        int t = 2;
        int p = 3;
        int d = c * t * p * p;
        // one-hot kernel: feature k of a token is element k of its cube, read as (c, t, p, q)
        Tensor w = Tensor.zeros(DType.F32, d, c, t, p, p);
        for (int k = 0; k < d; k++) {
            w.setFloat(1f, k, k / (t * p * p), k / (p * p) % t, k / p % p, k % p);
        }
        SequencedMap<String, Tensor> weights = new LinkedHashMap<>();
        weights.put("embed.proj.weight", w);
        weights.put("embed.proj.bias", Tensor.zeros(DType.F32, d));
        SafetensorsWriter.write(dir.resolve("w.safetensors"), weights, Map.of());
        Tensor x = Tensor.zeros(DType.F32, 3, c, frames, 6, 6);
        try (var pool = new org.tessera.engine.parallel.WorkerPool(1)) {
            new RandomStream(5, 0).fillNormal(x, pool);
        }
        SequencedMap<String, Tensor> in = new LinkedHashMap<>();
        in.put("x", x);
        SafetensorsWriter.write(dir.resolve("x.safetensors"), in, Map.of());
        Path file = dir.resolve("roundtrip.tess");
        Files.writeString(file, MODEL.formatted(args));
        return file;
    }

    @Test
    void embedThenUnembedReturnsTheClipBitForBit(@TempDir Path dir) throws Exception {
        Path file = script(dir, "", 4);
        try (Pipeline p = Tessera.compile(file, CompileOptions.defaults().withThreads(2))) {
            Map<String, Tensor> r = p.runForward();
            assertArrayEquals(r.get("x").toFloatArray(), r.get("out").toFloatArray());
        }
    }

    @Test
    void framesThePatchDoesNotDivideAreNamed(@TempDir Path dir) throws Exception {
        Path file = script(dir, "frames = 5", 5);
        CompilationException e = assertThrows(
                CompilationException.class,
                () -> Tessera.compile(file, CompileOptions.defaults()).close());
        assertTrue(e.getMessage().contains("frames 5 is not a multiple of the patch's 2"), e.getMessage());
    }
}
