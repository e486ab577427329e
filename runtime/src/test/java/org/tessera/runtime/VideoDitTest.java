package org.tessera.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SequencedMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessera.engine.io.SafetensorsWriter;
import org.tessera.engine.parallel.WorkerPool;
import org.tessera.engine.random.RandomStream;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Tensor;

/** The stdlib's VideoDiT (video.tess): tubelets, full 3-D attention, either position encoding. */
class VideoDitTest {
    private static float[] forward(Path dir, String positions) throws Exception {
        Path file = dir.resolve(positions + ".tess");
        Files.writeString(file, """
                import "video.tess"

                pipeline vdit {
                    model   = VideoDiT(input_size = 8, frames = 4, tubelet = 2, patch_size = 2, in_channels = 4,
                                       hidden_size = 48, depth = 2, num_heads = 2, num_classes = 10,
                                       positions = "%s")
                    weights = random(seed = 3, std = 0.05)
                    inputs  = load("in.safetensors", x = "x", t = "t", y = "y")
                    output "out.safetensors" = tensors(out)
                }
                """.formatted(positions));
        try (Pipeline p = Tessera.compile(file, CompileOptions.defaults().withThreads(2))) {
            Tensor out = p.runForward().get("out");
            assertArrayEquals(new int[] {2, 4, 8, 8, 8}, out.shape()); // [B, F, 2C, H, W]: ε and the variance
            return out.toFloatArray();
        }
    }

    @Test
    void bothPositionEncodingsRunAndDiffer(@TempDir Path dir) throws Exception {
        Tensor x = Tensor.zeros(DType.F32, 2, 4, 4, 8, 8);
        try (WorkerPool pool = new WorkerPool(1)) {
            new RandomStream(9, 0).fillNormal(x, pool);
        }
        SequencedMap<String, Tensor> in = new LinkedHashMap<>();
        in.put("x", x);
        in.put("t", Tensor.ofLongs(java.lang.foreign.Arena.ofAuto(), new long[] {10, 700}, 2));
        in.put("y", Tensor.ofLongs(java.lang.foreign.Arena.ofAuto(), new long[] {1, 2}, 2));
        SafetensorsWriter.write(dir.resolve("in.safetensors"), in, Map.of());
        float[] sincos = forward(dir, "sincos_3d");
        float[] rope = forward(dir, "rope_3d");
        for (float v : sincos) {
            assertTrue(Float.isFinite(v));
        }
        assertFalse(java.util.Arrays.equals(sincos, rope), "the position encoding changes nothing");
    }
}
