package org.tessera.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SequencedMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessera.engine.io.SafetensorsReader;
import org.tessera.engine.io.SafetensorsWriter;
import org.tessera.engine.io.WeightInit;
import org.tessera.engine.parallel.WorkerPool;
import org.tessera.engine.random.RandomStream;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Tensor;
import org.tessera.testing.RepoFiles;
import org.tessera.testing.TensorDifference;

/**
 * The stdlib's VideoLDMDiT (video.tess): temporal layers whose adaLN-Zero gates are still zero add
 * nothing, whatever their other weights and their mixing factor α, so the model is the image DiT
 * applied frame by frame. Held against the reference DiT checkpoint of ../shared/goldens.
 */
class VideoLdmDiTTest {
    private static final int FRAMES = 3;
    private static final int HIDDEN = 64;
    private static final String DIT = "input_size = 8, patch_size = 2, in_channels = 4, hidden_size = 64, depth = 2,"
            + " num_heads = 4, num_classes = 10, learn_sigma = true";

    @Test
    void freshTemporalLayersLeaveTheImageModelAsItIs(@TempDir Path dir) throws Exception {
        Path image = RepoFiles.golden("dit_tiny.safetensors");
        float[] x;
        float[] reference;
        try (SafetensorsReader ref = SafetensorsReader.open(RepoFiles.golden("dit_tiny_reference.safetensors"))) {
            x = ref.tensor("forward.x").toFloatArray(); // [2, 4, 8, 8]
            reference = ref.tensor("forward.out").toFloatArray(); // [2, 8, 8, 8]
        }
        int frame = 4 * 8 * 8;
        // Two clips of three frames; frame f of clip b is reference image (b + f) % 2, so the frames of a
        // clip differ and the temporal attention has something to mix.
        float[] clips = new float[2 * FRAMES * frame];
        for (int b = 0; b < 2; b++) {
            for (int f = 0; f < FRAMES; f++) {
                System.arraycopy(x, ((b + f) % 2) * frame, clips, (b * FRAMES + f) * frame, frame);
            }
        }
        long[] t = {3, 500};
        long[] y = {1, 7};
        long[] tPerFrame = new long[2 * FRAMES];
        long[] yPerFrame = new long[2 * FRAMES];
        for (int i = 0; i < tPerFrame.length; i++) {
            tPerFrame[i] = t[i / FRAMES];
            yPerFrame[i] = y[i / FRAMES];
        }
        write(dir.resolve("frames.safetensors"), Tensor.of(clips, 2 * FRAMES, 4, 8, 8), tPerFrame, yPerFrame);
        write(dir.resolve("clips.safetensors"), Tensor.of(clips, 2, FRAMES, 4, 8, 8), t, y);
        writeVideoWeights(image, dir.resolve("video.safetensors"));

        float[] perFrame = forward(dir, "import \"dit.tess\"", "DiT(" + DIT + ")", image, "frames.safetensors");
        float[] video = forward(
                dir,
                "import \"video.tess\"",
                "VideoLDMDiT(" + DIT + ", num_frames = " + FRAMES + ")",
                dir.resolve("video.safetensors"),
                "clips.safetensors");
        double worst = TensorDifference.maxAbs(perFrame, video);
        assertTrue(worst <= 1e-5, "max |video − image model per frame| = " + worst);
        // The first frame of each clip is the reference's input at the reference's t and y.
        int out = 8 * 8 * 8;
        for (int b = 0; b < 2; b++) {
            float[] first = java.util.Arrays.copyOfRange(video, b * FRAMES * out, (b * FRAMES + 1) * out);
            float[] expected = java.util.Arrays.copyOfRange(reference, b * out, (b + 1) * out);
            double d = TensorDifference.maxAbs(expected, first);
            assertTrue(d <= 1e-5, "clip " + b + ": max |first frame − reference DiT| = " + d);
        }
    }

    /**
     * The image DiT's weights as they are, and temporal layers drawn at random (N(0, 0.05²)) except
     * their adaLN-Zero modulation, which a fresh layer has at zero; α is 0.3, away from both 1 and the
     * declared start, so that a formula that leaks anything into the mix would show.
     */
    private static void writeVideoWeights(Path image, Path out) throws Exception {
        SequencedMap<String, Tensor> w = new LinkedHashMap<>();
        try (SafetensorsReader r = SafetensorsReader.open(image);
                WorkerPool pool = new WorkerPool(1)) {
            for (String key : r.names()) {
                w.put(key, Tensor.of(r.tensor(key).toFloatArray(), r.shape(key)));
            }
            Tensor positions = Tensor.zeros(DType.F32, 1, FRAMES, HIDDEN);
            new WeightInit.SinCos1d(FRAMES).fill(positions, null, null);
            w.put("temp_embed", positions);
            Map<String, int[]> block = new LinkedHashMap<>();
            block.put("attn.qkv.weight", new int[] {3 * HIDDEN, HIDDEN});
            block.put("attn.qkv.bias", new int[] {3 * HIDDEN});
            block.put("attn.proj.weight", new int[] {HIDDEN, HIDDEN});
            block.put("attn.proj.bias", new int[] {HIDDEN});
            block.put("mlp.fc1.weight", new int[] {4 * HIDDEN, HIDDEN});
            block.put("mlp.fc1.bias", new int[] {4 * HIDDEN});
            block.put("mlp.fc2.weight", new int[] {HIDDEN, 4 * HIDDEN});
            block.put("mlp.fc2.bias", new int[] {HIDDEN});
            block.put("adaLN_modulation.1.weight", new int[] {6 * HIDDEN, HIDDEN});
            block.put("adaLN_modulation.1.bias", new int[] {6 * HIDDEN});
            long draw = 0;
            for (int i = 0; i < 2; i++) {
                w.put("temporal." + i + ".alpha", Tensor.of(new float[] {0.3f}, 1));
                for (Map.Entry<String, int[]> e : block.entrySet()) {
                    Tensor v = Tensor.zeros(DType.F32, e.getValue());
                    if (!e.getKey().startsWith("adaLN_modulation")) {
                        new RandomStream(11, draw++).fillNormal(v, pool);
                        float[] scaled = v.toFloatArray();
                        for (int k = 0; k < scaled.length; k++) {
                            scaled[k] *= 0.05f;
                        }
                        v = Tensor.of(scaled, e.getValue());
                    }
                    w.put("temporal." + i + ".block." + e.getKey(), v);
                }
            }
        }
        SafetensorsWriter.write(out, w, Map.of());
    }

    private static void write(Path file, Tensor x, long[] t, long[] y) throws Exception {
        SequencedMap<String, Tensor> in = new LinkedHashMap<>();
        in.put("x", x);
        in.put("t", Tensor.ofLongs(Arena.ofAuto(), t, t.length));
        in.put("y", Tensor.ofLongs(Arena.ofAuto(), y, y.length));
        SafetensorsWriter.write(file, in, Map.of());
    }

    private static float[] forward(Path dir, String importLine, String model, Path weights, String inputs)
            throws Exception {
        Path file = dir.resolve("p.tess");
        Files.writeString(file, """
                %s

                pipeline p {
                    model   = %s
                    weights = "%s"
                    inputs  = load("%s", x = "x", t = "t", y = "y")
                    output "out.safetensors" = tensors(out)
                }
                """.formatted(importLine, model, weights.toAbsolutePath(), inputs));
        try (Pipeline p = Tessera.compile(file, CompileOptions.defaults().withThreads(2))) {
            Tensor out = p.runForward().get("out");
            assertArrayEquals(new int[] {2 * FRAMES * 8 * 8 * 8}, new int[] {(int) out.numel()});
            return out.toFloatArray();
        }
    }
}
