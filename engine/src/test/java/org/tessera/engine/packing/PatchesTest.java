package org.tessera.engine.packing;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.tessera.engine.tensor.Tensor;

/** Packing examples of mixed sizes into rows, and unpacking the rows into the examples again. */
class PatchesTest {
    private static Tensor random(SplittableRandom r, int... shape) {
        float[] v = new float[java.util.Arrays.stream(shape).reduce(1, (a, b) -> a * b)];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) r.nextGaussian();
        }
        return Tensor.of(v, shape);
    }

    @Test
    void firstFitDecreasingFillsTheLongestFirst() {
        // tokens 16, 8, 8, 4, 4, 4, 4 into rows of 16: [16], [8, 8], [4, 4, 4, 4]
        List<PackPlan.Grid> grids = List.of(
                new PackPlan.Grid(1, 2, 2),
                new PackPlan.Grid(1, 4, 4),
                new PackPlan.Grid(1, 2, 2),
                new PackPlan.Grid(1, 4, 2),
                new PackPlan.Grid(1, 2, 4),
                new PackPlan.Grid(1, 2, 2),
                new PackPlan.Grid(1, 2, 2));
        PackPlan plan = PackPlan.firstFitDecreasing(grids, 16);
        assertEquals(3, plan.rows());
        assertEquals(new PackPlan.Placement(0, 0, 1, 4, 4), plan.placements().get(1));
        assertEquals(1, plan.placements().get(3).row());
        assertEquals(8, plan.placements().get(4).offset());
        assertEquals(48, plan.usedTokens());
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class,
                () -> PackPlan.firstFitDecreasing(List.of(new PackPlan.Grid(2, 4, 4)), 16));
        assertTrue(e.getMessage().contains("example 0 is 32 tokens"), e.getMessage());
    }

    /** Images and clips of several sizes: unpacking in the patches' own order gives each back. */
    @Test
    void unpackingThePackedTokensGivesTheExamplesBack() {
        SplittableRandom r = new SplittableRandom(4);
        List<Tensor> examples = List.of(
                random(r, 3, 8, 8),
                random(r, 3, 16, 8),
                random(r, 3, 8, 16),
                random(r, 3, 2, 8, 8),
                random(r, 3, 4, 4));
        Patches.Packed packed = Patches.pack(examples, 1, 2, 40);
        // tokens: 16, 32, 32, 32, 4 → rows of 40: [32, 4], [32], [32], [16]
        assertEquals(4, packed.plan().rows());
        assertArrayEquals(new int[] {4, 40, 12}, packed.tokens().shape());
        List<Tensor> back = Patches.unpack(packed.tokens(), packed.plan(), 3, 1, 2, Patches.Order.CHANNELS_FIRST);
        for (int e = 0; e < examples.size(); e++) {
            float[] want = examples.get(e).toFloatArray();
            assertArrayEquals(want, back.get(e).toFloatArray(), "example " + e);
        }
        // every token of an example carries its id; padding is −1 for attention and 0 for lookups
        long[] seg = longs(packed.segments());
        long[] gather = longs(packed.gather());
        long padding = 0;
        for (int i = 0; i < seg.length; i++) {
            if (seg[i] < 0) {
                padding++;
                assertEquals(0, gather[i]);
            } else {
                assertEquals(seg[i], gather[i]);
            }
        }
        assertEquals(4 * 40 - 116, padding);
        // positions: the clip's second frame starts at (1, 0, 0)
        PackPlan.Placement clip = packed.plan().placements().get(3);
        assertEquals(1f, packed.positions().getFloat(clip.row(), clip.offset() + 16, 0));
        assertEquals(0f, packed.positions().getFloat(clip.row(), clip.offset() + 16, 1));
    }

    /** Output tokens in DiT's (p q c) order land where DiT's unpatchify puts them. */
    @Test
    void channelsLastTokensUnpackAsDitsUnpatchify() {
        // one 1×1 grid of a 2×2 patch with 2 channels: features (ky, kx, c)
        Tensor rows = Tensor.of(new float[] {0, 10, 1, 11, 2, 12, 3, 13}, 1, 1, 8);
        PackPlan plan = new PackPlan(1, 1, List.of(new PackPlan.Placement(0, 0, 1, 1, 1)));
        Tensor x =
                Patches.unpack(rows, plan, 2, 1, 2, Patches.Order.CHANNELS_LAST).getFirst();
        assertArrayEquals(new float[] {0, 1, 2, 3, 10, 11, 12, 13}, x.toFloatArray());
        assertThrows(
                IllegalArgumentException.class,
                () -> Patches.pack(List.of(Tensor.of(new float[27], 3, 3, 3)), 1, 2, 16));
    }

    private static long[] longs(Tensor t) {
        return t.toLongArray();
    }

    /** The packed positions of a 4×8 grid are rows of DiT's sin-cos table for that grid (the reference kernel's). */
    @Test
    void packedPositionsAreDitsSinCosTable() {
        Patches.Packed packed =
                Patches.pack(List.of(Tensor.zeros(org.tessera.engine.tensor.DType.F32, 1, 8, 16)), 1, 2, 40);
        Tensor mine = Patches.sinCos2d(packed, 24);
        Tensor table = Tensor.zeros(org.tessera.engine.tensor.DType.F32, 32, 24);
        try (org.tessera.engine.parallel.WorkerPool pool = new org.tessera.engine.parallel.WorkerPool(1)) {
            org.tessera.engine.reference.ScalarBackend.create(pool).tables().sinCos2d(4, 8, table);
        }
        float[] m = mine.toFloatArray();
        float[] t = table.toFloatArray();
        for (int i = 0; i < t.length; i++) {
            assertEquals(t[i], m[i], 1e-6f, "at " + i);
        }
        for (int i = t.length; i < m.length; i++) {
            assertEquals(0f, m[i], "padding");
        }
    }

    /**
     * A mostly static clip: patches that barely change from the previous frame are left out of the
     * rows, and unpacking gives them the previous frame's values back.
     */
    @Test
    void similarPatchesOfAStillSceneAreDroppedAndRestored() {
        SplittableRandom r = new SplittableRandom(8);
        int frames = 6;
        float[] v = new float[2 * frames * 8 * 8];
        float[] still = new float[2 * 8 * 8];
        for (int i = 0; i < still.length; i++) {
            still[i] = (float) r.nextGaussian();
        }
        for (int ch = 0; ch < 2; ch++) {
            for (int f = 0; f < frames; f++) {
                System.arraycopy(still, ch * 64, v, (ch * frames + f) * 64, 64);
            }
        }
        // one 2×2 patch moves: frame 3's top-left patch changes
        for (int ch = 0; ch < 2; ch++) {
            for (int y = 0; y < 2; y++) {
                for (int x = 0; x < 2; x++) {
                    v[((ch * frames + 3) * 8 + y) * 8 + x] = (float) r.nextGaussian();
                }
            }
        }
        Tensor clip = Tensor.of(v, 2, frames, 8, 8);
        Patches.Packed packed = Patches.pack(List.of(clip), 1, 2, 96, new TokenDropping.Similar(0.99));
        // frame 0's 16 patches, frame 3's changed one and frame 4's (it changed back)
        assertEquals(16 + 2, packed.plan().placements().getFirst().tokens());
        List<Tensor> back = Patches.unpack(packed.tokens(), packed.plan(), 2, 1, 2, Patches.Order.CHANNELS_FIRST);
        assertArrayEquals(v, back.getFirst().toFloatArray(), "the dropped patches equal the previous frame's");
        // positions keep each token's true place: frame 3's patch sits at (3, 0, 0)
        assertEquals(3f, packed.positions().getFloat(0, 16, 0));
    }

    @Test
    void similarityDroppingThinsItsShareOfTheClipsAndKeepsTheOthersWhole() {
        // still clips: 4 frames of the same 8×8 picture, 16 patches a frame, of which a thinned clip keeps frame 0's
        SplittableRandom r = new SplittableRandom(5);
        float[] frame = new float[64];
        for (int i = 0; i < 64; i++) {
            frame[i] = (float) r.nextGaussian();
        }
        float[] v = new float[4 * 64];
        for (int f = 0; f < 4; f++) {
            System.arraycopy(frame, 0, v, f * 64, 64);
        }
        List<Tensor> clips = new ArrayList<>();
        for (int e = 0; e < 200; e++) {
            clips.add(Tensor.of(v.clone(), 1, 4, 8, 8));
        }
        TokenDropping half = new TokenDropping.Similar(0.99, 0.5, 11);
        Patches.Packed packed = Patches.pack(clips, 1, 2, 64, half);
        int thinned = 0;
        for (int e = 0; e < clips.size(); e++) {
            int tokens = packed.plan().placements().get(e).tokens();
            assertTrue(tokens == 16 || tokens == 64, "a clip is thinned to its first frame or kept whole: " + tokens);
            thinned += tokens == 16 ? 1 : 0;
        }
        assertTrue(thinned > 70 && thinned < 130, "about half of 200 clips thinned: " + thinned);
        assertEquals(
                packed.plan().placements(),
                Patches.pack(clips, 1, 2, 64, new TokenDropping.Similar(0.99, 0.5, 11))
                        .plan()
                        .placements(),
                "the same seed thins the same clips");
        assertEquals(
                16,
                Patches.pack(clips.subList(0, 1), 1, 2, 64, new TokenDropping.Similar(0.99))
                        .plan()
                        .placements()
                        .getFirst()
                        .tokens(),
                "a share of 1 thins every clip");
        assertThrows(IllegalArgumentException.class, () -> new TokenDropping.Similar(0.99, 0, 1));
    }

    @Test
    void randomDroppingKeepsAboutTheRateAndAtLeastOnePatch() {
        List<Tensor> examples =
                List.of(Tensor.of(new float[4 * 32 * 32], 4, 32, 32), Tensor.of(new float[16], 4, 2, 2));
        Patches.Packed packed = Patches.pack(examples, 1, 2, 256, new TokenDropping.Random(0.75, 1));
        int big = packed.plan().placements().get(0).tokens();
        assertTrue(big > 40 && big < 90, "about a quarter of 256 kept: " + big);
        assertEquals(1, packed.plan().placements().get(1).tokens(), "a one-patch example keeps its patch");
        assertEquals(
                packed.plan().placements(),
                Patches.pack(examples, 1, 2, 256, new TokenDropping.Random(0.75, 1))
                        .plan()
                        .placements(),
                "the same seed drops the same patches");
    }

    /**
     * A second batch packed by the first's plan — a training step's noise by its data's, patches
     * dropped included — puts each of its patches where the first put the patch of that place.
     */
    @Test
    void packingByAnotherBatchsPlanPairsThePatches() {
        SplittableRandom r = new SplittableRandom(6);
        List<Tensor> data = List.of(random(r, 2, 1, 4, 6), random(r, 2, 1, 6, 4), random(r, 2, 3, 4, 4));
        List<Tensor> noise = new ArrayList<>();
        for (Tensor d : data) {
            float[] v = d.toFloatArray();
            for (int i = 0; i < v.length; i++) {
                v[i] = 100 + 2 * v[i]; // a function of the data, value by value
            }
            noise.add(Tensor.of(v, d.shape()));
        }
        Patches.Packed a = Patches.pack(data, 1, 2, 14, new TokenDropping.Random(0.4, 3));
        Patches.Packed b = Patches.pack(noise, 1, 2, a.plan());
        assertArrayEquals(a.segments().toLongArray(), b.segments().toLongArray());
        assertArrayEquals(a.gather().toLongArray(), b.gather().toLongArray());
        float[] x = a.tokens().toFloatArray();
        float[] y = b.tokens().toFloatArray();
        long[] segments = a.segments().toLongArray();
        int dim = 2 * 4;
        for (int token = 0; token < segments.length; token++) {
            for (int i = 0; i < dim && segments[token] >= 0; i++) {
                assertEquals(100 + 2 * x[token * dim + i], y[token * dim + i], 1e-4, "token " + token);
            }
        }
        assertArrayEquals(a.positions().toFloatArray(), b.positions().toFloatArray());
        IllegalArgumentException wrong =
                assertThrows(IllegalArgumentException.class, () -> Patches.pack(noise.reversed(), 1, 2, a.plan()));
        assertTrue(wrong.getMessage().contains("not the shape its plan placed"), wrong.getMessage());
    }

    /** A clip's packed positions are rows of the separable 3-D table for its grid. */
    @Test
    void packedClipPositionsAreTheSeparable3dTable() {
        Tensor clip = Tensor.zeros(org.tessera.engine.tensor.DType.F32, 1, 3, 4, 6);
        Patches.Packed packed =
                Patches.pack(List.of(clip, Tensor.zeros(org.tessera.engine.tensor.DType.F32, 1, 2, 2)), 1, 2, 32);
        Tensor mine = Patches.sinCos3d(packed, 12);
        float[] table =
                org.tessera.engine.graph.PositionTables.sinCos3d(3, 2, 3, 12).toFloatArray();
        PackPlan.Placement pl = packed.plan().placements().getFirst();
        float[] m = mine.toFloatArray();
        for (int i = 0; i < table.length; i++) {
            assertEquals(table[i], m[(pl.row() * 32 + pl.offset()) * 12 + i], 1e-6f, "at " + i);
        }
    }

    /** Factorised positions: a 4×8 grid's rows and columns, as they are or as fractions of a 16-row table. */
    @Test
    void factorisedPositionsIndexTheirTables() {
        Patches.Packed packed =
                Patches.pack(List.of(Tensor.zeros(org.tessera.engine.tensor.DType.F32, 1, 8, 16)), 1, 2, 32);
        Tensor[] absolute = Patches.rowsAndColumns(packed, 16, false);
        Tensor[] fraction = Patches.rowsAndColumns(packed, 16, true);
        // token 13 is row 1, column 5 of the 4×8 grid
        assertEquals(1, absolute[0].toLongArray()[13]);
        assertEquals(5, absolute[1].toLongArray()[13]);
        assertEquals(4, fraction[0].toLongArray()[13], "1/4 of 16");
        assertEquals(10, fraction[1].toLongArray()[13], "5/8 of 16");
        assertThrows(IllegalArgumentException.class, () -> Patches.rowsAndColumns(packed, 4, false));
    }

    /** Tubelets of 2 frames: packing and unpacking round-trip, and a still clip's dropped tubelets come back. */
    @Test
    void tubeletsPackUnpackAndRestore() {
        SplittableRandom r = new SplittableRandom(12);
        Tensor clip = random(r, 2, 6, 4, 4);
        Patches.Packed packed = Patches.pack(List.of(clip, random(r, 2, 2, 4, 4)), 2, 2, 24);
        List<Tensor> back = Patches.unpack(packed.tokens(), packed.plan(), 2, 2, 2, Patches.Order.CHANNELS_FIRST);
        assertArrayEquals(clip.toFloatArray(), back.getFirst().toFloatArray());
        float[] still = new float[2 * 6 * 16];
        float[] frame = new float[2 * 16];
        for (int i = 0; i < frame.length; i++) {
            frame[i] = (float) r.nextGaussian();
        }
        for (int ch = 0; ch < 2; ch++) {
            for (int f = 0; f < 6; f++) {
                System.arraycopy(frame, ch * 16, still, (ch * 6 + f) * 16, 16);
            }
        }
        Tensor s = Tensor.of(still, 2, 6, 4, 4);
        Patches.Packed dropped = Patches.pack(List.of(s), 2, 2, 12, new TokenDropping.Similar(0.999));
        assertEquals(4, dropped.plan().placements().getFirst().tokens(), "the first tubelet frame only");
        assertArrayEquals(
                still,
                Patches.unpack(dropped.tokens(), dropped.plan(), 2, 2, 2, Patches.Order.CHANNELS_FIRST)
                        .getFirst()
                        .toFloatArray());
    }

    /** A slow drift, each frame nearly the last, is kept once it is far from the patch kept last. */
    @Test
    void aSlowDriftIsKeptOnceItHasDriftedFarEnough() {
        float[] v = new float[8 * 4]; // 1 channel, 8 frames of 2×2: one patch whose angle turns 0.1 a frame
        for (int f = 0; f < 8; f++) {
            double a = 0.1 * f;
            v[f * 4] = (float) Math.cos(a);
            v[f * 4 + 1] = (float) Math.sin(a);
        }
        Patches.Packed p = Patches.pack(List.of(Tensor.of(v, 1, 8, 2, 2)), 1, 2, 8, new TokenDropping.Similar(0.99));
        // cos 0.1 = 0.995 > 0.99 drops a step; two steps (cos 0.2 = 0.980) from the kept one do not
        assertArrayEquals(
                new int[] {0, 2, 4, 6}, p.plan().placements().getFirst().kept());
        assertThrows(IllegalArgumentException.class, () -> Patches.pack(List.of(), 1, 2, 8));
        assertThrows(
                IllegalArgumentException.class,
                () -> Patches.padded(
                        List.of(Tensor.of(new float[16], 1, 4, 4), Tensor.of(new float[32], 2, 4, 4)), 1, 2));
    }
}
