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
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Tensor;

/** sample_frames: uniform frame sampling at a stride, the Sora notes' first tokenisation. */
class FrameSamplingTest {
    private static Path script(Path dir, String call) throws Exception {
        Tensor x = Tensor.zeros(DType.F32, 2, 9, 2, 3, 3);
        for (int i = 0; i < x.numel(); i++) {
            x.setFloat(i, i / 162, i / 18 % 9, i / 9 % 2, i / 3 % 3, i % 3);
        }
        SequencedMap<String, Tensor> in = new LinkedHashMap<>();
        in.put("x", x);
        SafetensorsWriter.write(dir.resolve("x.safetensors"), in, Map.of());
        Path file = dir.resolve("pick.tess");
        Files.writeString(file, """
                model Pick() {
                    forward(x: [B, 9, 2, 3, 3]) {
                        return %s
                    }
                }
                pipeline p {
                    model   = Pick()
                    weights = random(seed = 0)
                    inputs  = load("x.safetensors", x = "x")
                    output "o.safetensors" = tensors(out)
                }
                """.formatted(call));
        return file;
    }

    @Test
    void everyFourthFrameFromTheSecond(@TempDir Path dir) throws Exception {
        try (Pipeline p =
                Tessera.compile(script(dir, "sample_frames(x, 2, stride = 4, start = 1)"), CompileOptions.defaults())) {
            Map<String, Tensor> r = p.runForward();
            Tensor x = r.get("x");
            Tensor out = r.get("out");
            assertArrayEquals(new int[] {2, 2, 2, 3, 3}, out.shape());
            for (int b = 0; b < 2; b++) {
                for (int f = 0; f < 2; f++) {
                    assertArrayEquals(
                            x.select(0, b).select(0, 1 + 4 * f).contiguous().toFloatArray(),
                            out.select(0, b).select(0, f).contiguous().toFloatArray());
                }
            }
        }
    }

    @Test
    void framesBeyondTheClipAreNamed(@TempDir Path dir) throws Exception {
        Path file = script(dir, "sample_frames(x, 3, stride = 4, start = 1)");
        CompilationException e = assertThrows(
                CompilationException.class,
                () -> Tessera.compile(file, CompileOptions.defaults()).close());
        assertTrue(
                e.getMessage().contains("3 frames from 1 at stride 4 need 10 frames along axis 1, which has 9"),
                e.getMessage());
    }
}
