package org.tessera.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessera.dsl.CompilationException;
import org.tessera.engine.io.SafetensorsWriter;
import org.tessera.engine.tensor.Tensor;

/**
 * Video LDM's context frames in sampling (VideoLDMContextDiT): a long video grows a segment at a
 * time, each segment given the last frames of the one before, exactly as if the segment before
 * had been written out and continued with {@code context = load(...)}; interpolation fills in
 * between keyframes, a clip per pair.
 */
class VideoLdmContextTest {
    private static final String MODEL = "VideoLDMContextDiT(input_size = 8, patch_size = 2, in_channels = 1,"
            + " hidden_size = 32, depth = 2, num_heads = 2, num_frames = 4, num_classes = 3, learn_sigma = false,"
            + " predicts = \"v\")";
    /** Segment k of a stage seeded s draws its noise from s + k·this (ModelStage.sampleWithContext). */
    private static final long SEGMENT_SEED = 0x9E3779B97F4A7C15L;

    private static Path script(Path dir, String name, String extra) throws Exception {
        return script(dir, name, extra, "none", 4);
    }

    private static Path script(Path dir, String name, String extra, String guidance, int steps) throws Exception {
        // every weight drawn (random(std) ignores the declared zeros), so the context changes the output
        return Files.writeString(dir.resolve(name), """
                import "video.tess"
                pipeline p {
                    model    = %s
                    weights  = random(seed = 3, std = 0.1)
                    schedule = linear(1000)
                    sampler  = ddim(steps = %d)
                    guidance = %s
                    classes  = [0, 2]
                %s
                    output "clips.safetensors" = tensors(samples)
                }
                """.formatted(MODEL, steps, guidance, extra));
    }

    /** Clips [N, F, C, H, W] as the "samples" tensor of a safetensors file, as a sample stage writes them. */
    private static void writeClips(Path file, Tensor clips) throws Exception {
        java.util.SequencedMap<String, Tensor> m = new LinkedHashMap<>();
        m.put("samples", clips);
        SafetensorsWriter.write(file, m, Map.of());
    }

    private static Tensor sample(Path file, long seed) {
        try (Pipeline p = Tessera.compile(file, CompileOptions.defaults().withThreads(2))) {
            return p.sample(SampleRequest.seed(seed)).samples();
        }
    }

    @Test
    void segmentsContinueFromTheLastFramesOfTheSegmentBefore(@TempDir Path dir) throws Exception {
        Tensor video = sample(script(dir, "long.tess", "    segments = 3\n    context_frames = 2"), 5);
        assertArrayEquals(new int[] {2, 8, 1, 8, 8}, video.shape(), "4 + 2 + 2 frames");
        Tensor first = sample(script(dir, "one.tess", ""), 5);
        assertArrayEquals(new int[] {2, 4, 1, 8, 8}, first.shape());
        assertEquals(
                java.util.Arrays.toString(first.toFloatArray()),
                java.util.Arrays.toString(video.slice(1, 0, 4).contiguous().toFloatArray()),
                "the first segment is the clip sampled without context");

        writeClips(dir.resolve("first.safetensors"), first.contiguous());
        Tensor next = sample(
                script(
                        dir,
                        "next.tess",
                        "    context = load(\"first.safetensors\", \"samples\")\n    context_frames = 2"),
                5 + SEGMENT_SEED);
        assertEquals(
                java.util.Arrays.toString(next.slice(1, 2, 4).contiguous().toFloatArray()),
                java.util.Arrays.toString(video.slice(1, 4, 6).contiguous().toFloatArray()),
                "the second segment's new frames are the first clip continued from its last two");
        assertEquals(
                java.util.Arrays.toString(first.slice(1, 2, 4).contiguous().toFloatArray()),
                java.util.Arrays.toString(next.slice(1, 0, 2).contiguous().toFloatArray()),
                "a continuation keeps the frames it was given, not the model's copies of them");
        Tensor free = sample(script(dir, "free.tess", ""), 5 + SEGMENT_SEED);
        double apart = org.tessera.testing.TensorDifference.maxAbs(
                free.slice(1, 2, 4).contiguous(), next.slice(1, 2, 4).contiguous());
        assertTrue(apart > 1e-3, "the context changes what is sampled: " + apart);
    }

    @Test
    void interpolationFillsInBetweenEveryPairOfKeyframes(@TempDir Path dir) throws Exception {
        // two clips of 7 frames; interpolate = 3 takes frames 0, 3 and 6 as keyframes: two clips of 4
        Tensor keyframes = Tensor.zeros(org.tessera.engine.tensor.DType.F32, 2, 7, 1, 8, 8);
        float[] v = new float[2 * 7 * 64];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) Math.sin(0.37 * i);
        }
        keyframes.copyFrom(Tensor.of(v, 2, 7, 1, 8, 8));
        writeClips(dir.resolve("k.safetensors"), keyframes);
        Tensor video = sample(
                script(dir, "between.tess", "    context = load(\"k.safetensors\", \"samples\")\n    interpolate = 3"),
                9);
        assertArrayEquals(new int[] {2, 7, 1, 8, 8}, video.shape(), "(3 − 1)·(4 − 1) + 1 frames");

        writeClips(dir.resolve("second.safetensors"), keyframes.slice(1, 3, 7).contiguous());
        Tensor alone = sample(
                script(
                        dir,
                        "alone.tess",
                        "    context = load(\"second.safetensors\", \"samples\")\n    interpolate = 3"),
                9 + SEGMENT_SEED);
        assertArrayEquals(new int[] {2, 4, 1, 8, 8}, alone.shape());
        assertEquals(
                java.util.Arrays.toString(alone.slice(1, 1, 4).contiguous().toFloatArray()),
                java.util.Arrays.toString(video.slice(1, 4, 7).contiguous().toFloatArray()),
                "the second clip is the one between keyframes 3 and 6, sampled alone");
        for (int f : new int[] {0, 3, 6}) {
            assertEquals(
                    java.util.Arrays.toString(
                            keyframes.slice(1, f, f + 1).contiguous().toFloatArray()),
                    java.util.Arrays.toString(
                            video.slice(1, f, f + 1).contiguous().toFloatArray()),
                    "keyframe " + f + " stays as given");
        }
    }

    /**
     * Guidance over the context: the unconditional half of the batch is given no context frames,
     * so what it predicts does not depend on them. With one DDIM step and no clipping the sample is
     * linear in the model's output, x_g = x_u + s·(x_c − x_u), so x_u comes out of a guided run and
     * an unguided one; it must be the same for two different contexts.
     */
    @Test
    void guidancesUnconditionalHalfSeesNoContext(@TempDir Path dir) throws Exception {
        float[][] unconditional = new float[2][];
        float[][] conditional = new float[2][];
        for (int k = 0; k < 2; k++) {
            float[] v = new float[2 * 4 * 64];
            for (int i = 0; i < v.length; i++) {
                v[i] = (float) Math.sin((k + 1) * 0.29 * i);
            }
            writeClips(dir.resolve("c" + k + ".safetensors"), Tensor.of(v, 2, 4, 1, 8, 8));
            String context = "    context = load(\"c" + k + ".safetensors\", \"samples\")\n    context_frames = 2";
            float[] guided = sample(
                            script(dir, "g" + k + ".tess", context, "cfg(scale = 3.0, form = \"standard\")", 1), 4)
                    .slice(1, 2, 4)
                    .contiguous()
                    .toFloatArray();
            conditional[k] = sample(script(dir, "c" + k + ".tess", context, "none", 1), 4)
                    .slice(1, 2, 4)
                    .contiguous()
                    .toFloatArray();
            unconditional[k] = new float[guided.length];
            for (int i = 0; i < guided.length; i++) {
                unconditional[k][i] = (guided[i] - 3f * conditional[k][i]) / (1f - 3f);
            }
        }
        double apart = org.tessera.testing.TensorDifference.maxAbs(conditional[0], conditional[1]);
        double same = org.tessera.testing.TensorDifference.maxAbs(unconditional[0], unconditional[1]);
        assertTrue(apart > 1e-4, "the conditional half sees its context: " + apart);
        assertTrue(same < apart / 100, "the unconditional half sees none: " + same + " against " + apart);
    }

    /** img2img still runs only the last steps for a model with context frames (given none here). */
    @Test
    void aContextModelStartsFromAnInitAsOtherModelsDo(@TempDir Path dir) throws Exception {
        Path file = Files.writeString(dir.resolve("init.tess"), """
                import "video.tess"
                pipeline p {
                    let first = sample(model = %s, weights = random(seed = 3, std = 0.1), sampler = ddim(steps = 6),
                                       guidance = none, classes = [0, 2])
                    let again = sample(model = %s, weights = random(seed = 3, std = 0.1), sampler = ddim(steps = 6),
                                       guidance = none, classes = [0, 2], init = first, strength = 0.5)
                    output "clips.safetensors" = tensors(again)
                }
                """.formatted(MODEL, MODEL));
        java.util.List<Integer> steps = new java.util.ArrayList<>();
        org.tessera.engine.diffusion.StepCallback counting = new org.tessera.engine.diffusion.StepCallback() {
            @Override
            public void onStep(int step, int total, int timestep, Tensor x, Tensor x0) {
                steps.add(step);
            }
        };
        try (Pipeline p = Tessera.compile(file, CompileOptions.defaults().withThreads(2))) {
            p.execute(dir.resolve("out"), 0, counting);
        }
        assertEquals(java.util.List.of(0, 1, 2, 3, 4, 5, 3, 4, 5), steps, "all 6 steps, then the last 3 from the init");
    }

    @Test
    void contextSettingsThatCannotWorkAreRefusedWhereTheyAreWritten(@TempDir Path dir) throws Exception {
        Path wrongModel = Files.writeString(dir.resolve("w.tess"), """
                import "video.tess"
                pipeline p {
                    model    = VideoLDMDiT(input_size = 8, patch_size = 2, in_channels = 1, hidden_size = 32, depth = 1,
                                           num_heads = 2, num_frames = 4, num_classes = 3, learn_sigma = false)
                    weights  = random(seed = 3)
                    segments = 2
                    output "clips.safetensors" = tensors(samples)
                }
                """);
        var e = assertThrows(CompilationException.class, () -> Tessera.compile(wrongModel, CompileOptions.defaults()));
        assertTrue(e.getMessage().contains("context frames are for a model that takes them"), e.getMessage());
        assertTrue(e.getMessage().contains("w.tess:6:16:"), e.getMessage()); // at segments = 2

        Path all = script(dir, "all.tess", "    segments = 2\n    context_frames = 4");
        var e2 = assertThrows(CompilationException.class, () -> Tessera.compile(all, CompileOptions.defaults()));
        assertTrue(e2.getMessage().contains("leaves nothing to sample in a clip of 4 frames"), e2.getMessage());
        assertTrue(e2.getMessage().contains("all.tess:10:22:"), e2.getMessage()); // at context_frames = 4

        Path none = script(dir, "none.tess", "    segments = 2\n    context_frames = 0");
        var e3 = assertThrows(CompilationException.class, () -> Tessera.compile(none, CompileOptions.defaults()));
        assertTrue(e3.getMessage().contains("context_frames ≥ 1"), e3.getMessage());

        // 1 frame < 2
        writeClips(dir.resolve("odd.safetensors"), Tensor.zeros(org.tessera.engine.tensor.DType.F32, 2, 1, 1, 8, 8));
        writeClips(dir.resolve("two.safetensors"), Tensor.zeros(org.tessera.engine.tensor.DType.F32, 2, 2, 1, 8, 8));
        Path between = script(
                dir, "between.tess", "    context = load(\"two.safetensors\", \"samples\")\n    interpolate = 2");
        var e5 = assertThrows(CompilationException.class, () -> Tessera.compile(between, CompileOptions.defaults()));
        assertTrue(e5.getMessage().contains("fewer than the two a clip is sampled between"), e5.getMessage());
        Path noKeys = script(dir, "nokeys.tess", "    interpolate = 3");
        var e6 = assertThrows(CompilationException.class, () -> Tessera.compile(noKeys, CompileOptions.defaults()));
        assertTrue(
                e6.getMessage().contains("interpolate fills in between the keyframes of context clips"),
                e6.getMessage());
        Path shortClips = script(dir, "short.tess", "    context = load(\"odd.safetensors\", \"samples\")");
        var e4 = assertThrows(CompilationException.class, () -> Tessera.compile(shortClips, CompileOptions.defaults()));
        assertTrue(
                e4.getMessage().contains("the clips to continue are [2 (one per class) or 1, F ≥ 2, 1, 8, 8]"),
                e4.getMessage());
    }
}
