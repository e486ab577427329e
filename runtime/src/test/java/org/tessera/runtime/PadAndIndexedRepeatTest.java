package org.tessera.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
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

/** pad(x, widths) (F.pad's order, zeros) and sub-blocks repeated with their index (repeat(n) as i). */
class PadAndIndexedRepeatTest {
    private static Path script(Path dir, String body, String extraBlocks) throws Exception {
        Tensor x = Tensor.zeros(DType.F32, 2, 3, 4, 5);
        for (int i = 0; i < x.numel(); i++) {
            x.setFloat(i + 1, i / 60, i / 20 % 3, i / 5 % 4, i % 5);
        }
        SequencedMap<String, Tensor> in = new LinkedHashMap<>();
        in.put("x", x);
        SafetensorsWriter.write(dir.resolve("x.safetensors"), in, Map.of());
        Path file = dir.resolve("m.tess");
        Files.writeString(file, """
                import "layers.tess"
                %s
                model M() {
                    %s
                }
                pipeline p {
                    model   = M()
                    weights = init(seed = 3)
                    inputs  = load("x.safetensors", x = "x")
                    output "o.safetensors" = tensors(out)
                }
                """.formatted(extraBlocks, body));
        return file;
    }

    @Test
    void padAddsZerosRightAndBelowInTorchOrder(@TempDir Path dir) throws Exception {
        Path s = script(dir, "forward(x: [B, 3, 4, 5]) { return pad(x, [0, 1, 2, 1]) }", "");
        try (Pipeline p = Tessera.compile(s, CompileOptions.defaults())) {
            Map<String, Tensor> r = p.runForward();
            Tensor x = r.get("x");
            Tensor out = r.get("out");
            assertArrayEquals(new int[] {2, 3, 7, 6}, out.shape()); // 2 rows above, 1 below; 1 column right
            for (int n = 0; n < 2; n++) {
                for (int c = 0; c < 3; c++) {
                    for (int h = 0; h < 7; h++) {
                        for (int w = 0; w < 6; w++) {
                            boolean inside = h >= 2 && h < 6 && w < 5;
                            float expected = inside ? x.getFloat(n, c, h - 2, w) : 0f;
                            assertEquals(expected, out.getFloat(n, c, h, w), "at " + n + c + h + w);
                        }
                    }
                }
            }
        }
    }

    @Test
    void padWidthsAreChecked(@TempDir Path dir) throws Exception {
        Path s = script(dir, "forward(x: [B, 3, 4, 5]) { return pad(x, [0, 1, 1]) }", "");
        CompilationException e =
                assertThrows(CompilationException.class, () -> Tessera.compile(s, CompileOptions.defaults()));
        assertTrue(
                e.getMessage().contains("m.tess:4:39: error: pad: widths are pairs (before, after)"), e.getMessage());
    }

    /** Each copy's widths follow its index, as a VAE's down blocks do: 3 → 4 → 6 → 8 channels. */
    @Test
    void repeatedSubBlocksSeeTheirIndex(@TempDir Path dir) throws Exception {
        Path s = script(dir, """
                let widths = [3, 4, 6, 8]
                    sub convs = repeat(3) as i Conv2d(widths[i], widths[i + 1], 3, padding = 1)
                    forward(x: [B, 3, 4, 5]) {
                        for c in convs {
                            x = c(x)
                        }
                        return x
                    }""", "");
        // copies with one shared set of arguments could not chain 3 → 8 channels
        try (Pipeline p = Tessera.compile(s, CompileOptions.defaults())) {
            assertArrayEquals(new int[] {2, 8, 4, 5}, p.runForward().get("out").shape());
        }
    }
}
