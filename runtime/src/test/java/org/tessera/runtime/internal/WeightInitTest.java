package org.tessera.runtime.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessera.dsl.ModelDefinition;
import org.tessera.dsl.Script;
import org.tessera.engine.backend.Backend;
import org.tessera.engine.backend.Backends;
import org.tessera.engine.io.SafetensorsReader;
import org.tessera.engine.io.WeightBinding;
import org.tessera.engine.io.WeightSource;
import org.tessera.engine.parallel.WorkerPool;
import org.tessera.testing.RepoFiles;

/** init(seed) weights start as DiT's initialize_weights makes them. */
class WeightInitTest {
    @TempDir
    Path dir;

    @Test
    void ditStartsAsItsReferenceInitialisesIt() throws Exception {
        Path script = Files.writeString(
                dir.resolve("t.tess"),
                "import \"dit.tess\"\npipeline t {\n"
                        + "    model = DiT(input_size = 8, patch_size = 2, in_channels = 4, hidden_size = 64, depth = 2,"
                        + " num_heads = 4, num_classes = 10, learn_sigma = true)\n"
                        + "    weights = init(seed = 3)\n    output \"s.safetensors\" = tensors(samples)\n}\n");
        ModelDefinition model = Script.load(script).pipeline(null, Map.of()).model("samples");
        List<Arena> arenas = Collections.synchronizedList(new ArrayList<>());
        try (WorkerPool pool = new WorkerPool(1);
                SafetensorsReader golden = SafetensorsReader.open(RepoFiles.golden("dit_tiny.safetensors"))) {
            Backend cpu = Backends.cpu(pool, m -> {});
            WeightSource w = WeightBinding.initialized(3, model.weightInits(), 0.02, cpu, arenas)
                    .source();
            Map<String, int[]> shapes = model.weightShapes();
            // The fixed position table equals the one the reference code put in its checkpoint.
            float[] pos = w.tensor("pos_embed", shapes.get("pos_embed")).toFloatArray();
            float[] ref = golden.tensor("pos_embed").toFloatArray();
            for (int i = 0; i < ref.length; i++) {
                assertEquals(ref[i], pos[i], 1e-6f, "pos_embed[" + i + "]");
            }
            // adaLN-Zero and the final layer start at zero; biases at zero
            for (String k : List.of(
                    "blocks.0.adaLN_modulation.1.weight",
                    "blocks.1.adaLN_modulation.1.bias",
                    "final_layer.linear.weight",
                    "final_layer.adaLN_modulation.1.weight",
                    "blocks.0.attn.qkv.bias",
                    "x_embedder.proj.bias")) {
                for (float v : w.tensor(k, shapes.get(k)).toFloatArray()) {
                    assertEquals(0f, v, k);
                }
            }
            // xavier-uniform: qkv [192, 64] within ±√(6/256), spread as a uniform's std a/√3
            float[] qkv = w.tensor("blocks.0.attn.qkv.weight", shapes.get("blocks.0.attn.qkv.weight"))
                    .toFloatArray();
            double a = Math.sqrt(6.0 / (64 + 192));
            double sq = 0;
            for (float v : qkv) {
                assertTrue(Math.abs(v) <= a, "qkv value " + v + " beyond ±" + a);
                sq += v * v;
            }
            assertEquals(a / Math.sqrt(3), Math.sqrt(sq / qkv.length), 0.05 * a);
            // the patch embedding flattened: fan_in = 4·2·2, fan_out = 64
            float[] patch = w.tensor("x_embedder.proj.weight", shapes.get("x_embedder.proj.weight"))
                    .toFloatArray();
            double ap = Math.sqrt(6.0 / (16 + 64));
            double maxAbs = 0;
            for (float v : patch) {
                maxAbs = Math.max(maxAbs, Math.abs(v));
            }
            assertTrue(maxAbs <= ap && maxAbs > 0.8 * ap, maxAbs + " against the bound " + ap);
            // N(0, 0.02²) for the label table and the timestep MLP
            float[] table = w.tensor(
                            "y_embedder.embedding_table.weight", shapes.get("y_embedder.embedding_table.weight"))
                    .toFloatArray();
            double tsq = 0;
            for (float v : table) {
                tsq += v * v;
            }
            assertEquals(0.02, Math.sqrt(tsq / table.length), 0.003);
            assertArrayEquals(
                    new int[] {64, 256}, shapes.get("t_embedder.mlp.0.weight"), "the timestep MLP's first layer");
        } finally {
            arenas.forEach(Arena::close);
        }
    }

    /** Video LDM's temporal layers start with α = 0.5 (constant(0.5)) and their adaLN-Zero gates at zero. */
    @Test
    void videoLdmTemporalLayersStartMixedHalfAndHalfWithClosedGates() throws Exception {
        Path script = Files.writeString(
                dir.resolve("v.tess"),
                "import \"video.tess\"\npipeline v {\n"
                        + "    model = VideoLDMDiT(input_size = 8, patch_size = 2, in_channels = 4, hidden_size = 32,"
                        + " depth = 2, num_heads = 2, num_frames = 3, num_classes = 10)\n"
                        + "    weights = init(seed = 3)\n    output \"s.safetensors\" = tensors(samples)\n}\n");
        ModelDefinition model = Script.load(script).pipeline(null, Map.of()).model("samples");
        List<Arena> arenas = Collections.synchronizedList(new ArrayList<>());
        try (WorkerPool pool = new WorkerPool(1)) {
            WeightSource w = WeightBinding.initialized(
                            3, model.weightInits(), 0.02, Backends.cpu(pool, m -> {}), arenas)
                    .source();
            Map<String, int[]> shapes = model.weightShapes();
            for (int i = 0; i < 2; i++) {
                String alpha = "temporal." + i + ".alpha";
                assertArrayEquals(
                        new float[] {0.5f}, w.tensor(alpha, shapes.get(alpha)).toFloatArray(), alpha);
                String gate = "temporal." + i + ".block.adaLN_modulation.1.weight";
                for (float v : w.tensor(gate, shapes.get(gate)).toFloatArray()) {
                    assertEquals(0f, v, gate);
                }
            }
        } finally {
            arenas.forEach(Arena::close);
        }
    }
}
