package org.tessera.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessera.engine.backend.AttentionMask;
import org.tessera.engine.backend.Backends;
import org.tessera.engine.io.SafetensorsWriter;
import org.tessera.engine.parallel.WorkerPool;
import org.tessera.engine.random.RandomStream;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Tensor;

/** {@code attention(q, k, v, mask = m)} in a script: an additive (here causal) mask reaches the kernel. */
class AttentionMaskScriptTest {

    @Test
    void aCausalMaskFromTheScriptMatchesTheKernel(@TempDir Path dir) throws Exception {
        Tensor x = Tensor.zeros(DType.F32, 2, 2, 4, 8);
        try (WorkerPool pool = new WorkerPool(1)) {
            new RandomStream(3, 0).fillNormal(x, pool);
        }
        float[] m = new float[16];
        for (int i = 0; i < 4; i++) {
            for (int j = 0; j < 4; j++) {
                m[i * 4 + j] = j > i ? Float.NEGATIVE_INFINITY : 0f;
            }
        }
        Tensor mask = Tensor.of(m, 4, 4);
        Map<String, Tensor> inputs = new LinkedHashMap<>();
        inputs.put("x", x);
        inputs.put("m", mask);
        SafetensorsWriter.write(dir.resolve("in.safetensors"), new java.util.LinkedHashMap<>(inputs));
        Path script = dir.resolve("causal.tess");
        Files.writeString(script, """
                model Causal() {
                    forward(x: [B, 2, 4, 8], m: [4, 4]) {
                        return attention(x, x, x, mask = m)
                    }
                }
                pipeline p {
                    model = Causal()
                    weights = random(seed = 1)
                    inputs = load("in.safetensors", x = "x", m = "m")
                    output "o.safetensors" = tensors(out)
                }
                """);
        try (Pipeline p = Tessera.compile(script, CompileOptions.defaults().withDevice("cpu"))) {
            Tensor actual = p.runForward().get("out");
            Tensor expected = Tensor.zeros(DType.F32, 2, 2, 4, 8);
            try (WorkerPool pool = new WorkerPool(1)) {
                Backends.cpu(pool, s -> {})
                        .attention()
                        .attention(x, x, x, expected, new AttentionMask.Additive(mask), (float) (1 / Math.sqrt(8)));
            }
            assertArrayEquals(expected.toFloatArray(), actual.toFloatArray(), 1e-6f);
        }
    }
}
