package org.tessera.runtime;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SequencedMap;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessera.dsl.Script;
import org.tessera.engine.io.SafetensorsWriter;
import org.tessera.engine.packing.Patches;
import org.tessera.engine.tensor.Tensor;
import org.tessera.testing.TensorDifference;

/**
 * Patch n' Pack (issue 16): one forward of the stdlib's PackedDiT over latents of different sizes
 * packed into shared rows equals each latent's own forward, and for a square latent, the stdlib
 * DiT's forward with the same weights.
 */
class PackedDiTTest {
    private static final String MODEL = "input_size = 8, patch_size = 2, in_channels = 4, hidden_size = 32,"
            + " depth = 2, num_heads = 2, num_classes = 5, learn_sigma = true";

    @TempDir
    Path dir;

    /** DiT's weights (its keys and shapes), N(0, 0.05²) each, and pos_embed its sin-cos table. */
    private Path weights() throws Exception {
        Path script = Files.writeString(dir.resolve("dit.tess"), """
                import "dit.tess"
                pipeline p {
                    model = DiT(%s)
                    weights = random(seed = 0)
                    output "x.safetensors" = tensors(samples)
                }
                """.formatted(MODEL));
        Map<String, int[]> shapes =
                Script.load(script).pipeline(null, Map.of()).model("samples").weightShapes();
        SplittableRandom random = new SplittableRandom(11);
        SequencedMap<String, Tensor> w = new LinkedHashMap<>();
        for (Map.Entry<String, int[]> e : shapes.entrySet()) {
            if (e.getKey().equals("pos_embed")) {
                // a lone 8×8 latent packed: its positions are DiT's pos_embed, [1, 16, 32]
                w.put(
                        "pos_embed",
                        Patches.sinCos2d(
                                Patches.pack(
                                        List.of(Tensor.zeros(org.tessera.engine.tensor.DType.F32, 4, 8, 8)), 1, 2, 16),
                                32));
                continue;
            }
            int n = java.util.Arrays.stream(e.getValue()).reduce(1, (a, b) -> a * b);
            float[] v = new float[n];
            for (int i = 0; i < n; i++) {
                v[i] = (float) (0.05 * random.nextGaussian());
            }
            w.put(e.getKey(), Tensor.of(v, e.getValue()));
        }
        Path file = dir.resolve("w.safetensors");
        SafetensorsWriter.write(file, w);
        return file;
    }

    /**
     * The PackedDiT's output over {@code examples} packed in rows of {@code rowLength}, unpacked.
     *
     * @param weights the pipeline's weights setting
     * @param positions "" for sin-cos positions, else the model's extra arguments for learned ones
     *     (fed NaViT's fractional rows and columns of a 16-row table)
     */
    private List<Tensor> packedForward(
            List<Tensor> examples, long[] t, long[] y, int rowLength, String weights, String positions, String tag)
            throws Exception {
        Patches.Packed packed = Patches.pack(examples, 1, 2, rowLength);
        SequencedMap<String, Tensor> in = new LinkedHashMap<>();
        in.put("tokens", packed.tokens());
        String named;
        if (positions.contains("rope")) {
            Tensor[] cs = Patches.rotary(packed, new int[] {0, 8, 8}, 10000);
            in.put("cos", cs[0]);
            in.put("sin", cs[1]);
            named = "cos = \"cos\", sin = \"sin\",";
        } else if (positions.contains("learned")) {
            Tensor[] rc = Patches.rowsAndColumns(packed, 16, true);
            in.put("rows", rc[0]);
            in.put("cols", rc[1]);
            named = "rows = \"rows\", cols = \"cols\",";
        } else {
            in.put("pos", Patches.sinCos2d(packed, 32));
            named = "pos = \"pos\",";
        }
        in.put("gather", packed.gather());
        in.put("segments", packed.segments());
        in.put(
                "t",
                Tensor.ofLongs(java.lang.foreign.Arena.ofAuto(), t, t.length).to(org.tessera.engine.tensor.DType.F32));
        in.put("y", Tensor.ofLongs(java.lang.foreign.Arena.ofAuto(), y, y.length));
        Path inputs = dir.resolve("in-" + tag + ".safetensors");
        SafetensorsWriter.write(inputs, in);
        Path script = Files.writeString(
                dir.resolve("packed-" + tag + ".tess"), """
                import "packed.tess"
                pipeline packed {
                    model   = PackedDiT(%s%s)
                    weights = %s
                    inputs  = load("%s", tokens = "tokens", %s gather = "gather", segments = "segments",
                                   t = "t", y = "y")
                    output "out.safetensors" = tensors(out)
                }
                """.formatted(MODEL, positions, weights, inputs, named));
        try (Pipeline p = Tessera.compile(script, CompileOptions.defaults().withThreads(2))) {
            Tensor out = p.runForward().get("out");
            return Patches.unpack(out, packed.plan(), 8, 1, 2, Patches.Order.CHANNELS_LAST);
        }
    }

    /**
     * max |difference| between the packed forward of {@code examples} (rows of {@code rowLength})
     * and each example's own forward, with the weights and positions given.
     */
    private double packedAgainstSeparate(
            List<Tensor> examples, long[] t, long[] y, int rowLength, String weights, String positions, String tag)
            throws Exception {
        List<Tensor> packed = packedForward(examples, t, y, rowLength, weights, positions, tag);
        double worst = 0;
        for (int e = 0; e < examples.size(); e++) {
            List<Tensor> alone = packedForward(
                    List.of(examples.get(e)),
                    new long[] {t[e]},
                    new long[] {y[e]},
                    (int) (examples.get(e).numel() / 16),
                    weights,
                    positions,
                    tag + "-" + e);
            worst = Math.max(worst, TensorDifference.maxAbs(alone.getFirst(), packed.get(e)));
        }
        return worst;
    }

    /** Latents [4, H, W] of the given sizes, N(0, 1). */
    private static List<Tensor> latents(SplittableRandom random, int[]... sizes) {
        List<Tensor> out = new ArrayList<>();
        for (int[] hw : sizes) {
            float[] v = new float[4 * hw[0] * hw[1]];
            for (int i = 0; i < v.length; i++) {
                v[i] = (float) random.nextGaussian();
            }
            out.add(Tensor.of(v, 4, hw[0], hw[1]));
        }
        return out;
    }

    @Test
    void aPackedForwardEqualsEachExamplesOwn() throws Exception {
        Path weights = weights();
        List<Tensor> examples = latents(
                new SplittableRandom(5),
                new int[] {8, 8},
                new int[] {16, 8},
                new int[] {8, 16},
                new int[] {8, 8},
                new int[] {8, 8},
                new int[] {8, 8},
                new int[] {8, 8});
        long[] t = {3, 999, 500, 10, 250, 750, 1};
        long[] y = {0, 1, 2, 3, 4, 1, 2};
        // 16, 32, 32 and four 16-token latents in rows of 64: [32, 32], [16, 16, 16, 16], [16]
        String w = "\"" + weights + "\"";
        double worst = packedAgainstSeparate(examples, t, y, 64, w, "", "all");
        assertTrue(worst <= 1e-5, "packed against separate forwards: max |difference| " + worst);

        // and the square latent against the stdlib DiT itself
        SequencedMap<String, Tensor> in = new LinkedHashMap<>();
        in.put("x", examples.getFirst().reshape(1, 4, 8, 8));
        in.put(
                "t",
                Tensor.ofLongs(java.lang.foreign.Arena.ofAuto(), new long[] {t[0]}, 1)
                        .to(org.tessera.engine.tensor.DType.F32));
        in.put("y", Tensor.ofLongs(java.lang.foreign.Arena.ofAuto(), new long[] {y[0]}, 1));
        SafetensorsWriter.write(dir.resolve("dit-in.safetensors"), in);
        Path script = Files.writeString(
                dir.resolve("dit-forward.tess"), """
                import "dit.tess"
                pipeline dit {
                    model   = DiT(%s)
                    weights = "%s"
                    inputs  = load("%s", x = "x", t = "t", y = "y")
                    output "out.safetensors" = tensors(out)
                }
                """.formatted(MODEL, weights, dir.resolve("dit-in.safetensors")));
        try (Pipeline p = Tessera.compile(script, CompileOptions.defaults().withThreads(2))) {
            Tensor dit = p.runForward().get("out"); // [1, 8, 8, 8]
            Tensor mine = packedForward(examples, t, y, 64, w, "", "dit").getFirst(); // [8, 1, 8, 8]
            double d = TensorDifference.maxAbs(dit.reshape(8, 1, 8, 8), mine);
            assertTrue(d <= 1e-5, "packed against the stdlib DiT: max |difference| " + d);
        }
    }

    /**
     * NaViT's factorised, fractional positions (learned row and column tables), and rotary
     * positions from per-token tables: packed equals separate with each.
     */
    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(
            strings = {
                ", positions = \"learned\", position_table = 16",
                ", positions = \"rope\", rope_sections = [0, 8, 8]"
            })
    void otherPositionsPackAsWell(String learned) throws Exception {
        List<Tensor> examples =
                latents(new SplittableRandom(6), new int[] {8, 8}, new int[] {16, 8}, new int[] {4, 12});
        long[] t = {5, 600, 42};
        long[] y = {4, 0, 2};
        String tag = learned.contains("rope") ? "rope" : "learned";
        double worst = packedAgainstSeparate(examples, t, y, 48, "random(seed = 2, std = 0.05)", learned, tag);
        assertTrue(worst <= 1e-5, "packed against separate forwards: max |difference| " + worst);
    }
}
