package org.tessera.runtime.internal;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tessera.dsl.ModelContract;
import org.tessera.engine.packing.PackPlan;
import org.tessera.engine.packing.Patches;
import org.tessera.engine.parallel.WorkerPool;
import org.tessera.engine.random.RandomStream;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Tensor;

/**
 * Samples of several sizes as one batch of a packed model (Patch n' Pack, NaViT): their patches
 * share rows of a fixed length, first fit decreasing. Holds the layout, makes the inputs the
 * model's contract names (segments, gather, positions) once per batch, draws x_T, and cuts the
 * sampled rows back into samples.
 *
 * <p>The sampler sees the rows as x [R, L, C, p·p]: a token's features are its patch in (c, y, x)
 * order, which is how the model embeds it, and the channels lie on axis 2, where a learned
 * variance and guidance split them. Padding tokens are sampled too (they attend only to each
 * other) and dropped when the rows are cut.
 */
final class PackedBatch {
    private final ModelContract.Packing packing;
    private final Patches.Packed packed;
    private final int channels;
    /** Each sample's [F, H, W] (F = 1 for an image). */
    private final List<int[]> sizes;
    /** Whether any sample is a clip: the samples then come as [N, F, C, H, W]. */
    private final boolean clips;

    private PackedBatch(
            ModelContract.Packing packing, Patches.Packed packed, int channels, List<int[]> sizes, boolean clips) {
        this.packing = packing;
        this.packed = packed;
        this.channels = channels;
        this.sizes = sizes;
        this.clips = clips;
    }

    /**
     * The layout of samples of {@code sizes} ([H, W] or [F, H, W] each) packed into rows of
     * {@code rowLength} tokens (0: the longest sample's).
     *
     * @throws IllegalArgumentException naming the sample when a patch does not divide it, or it
     *     does not fit a row
     */
    static PackedBatch of(ModelContract.Packing packing, int channels, List<int[]> sizes, int rowLength, String stage) {
        int p = packing.patch();
        List<Tensor> shapes = new ArrayList<>();
        List<int[]> fhw = new ArrayList<>();
        boolean clips = false;
        long longest = 0;
        for (int i = 0; i < sizes.size(); i++) {
            int[] s = sizes.get(i);
            int[] f = s.length == 3 ? s.clone() : new int[] {1, s[0], s[1]};
            clips |= s.length == 3;
            if (f[1] % p != 0 || f[2] % p != 0) {
                throw new IllegalArgumentException("stage '" + stage + "': sample " + i + " is " + f[1] + "×" + f[2]
                        + ", not a whole number of " + p + "×" + p + " patches");
            }
            longest = Math.max(longest, (long) f[0] * (f[1] / p) * (f[2] / p));
            if (longest > 1 << 20) {
                throw new IllegalArgumentException(
                        "stage '" + stage + "': a sample of " + longest + " tokens is more than one row holds (2^20)");
            }
            if (f[0] > 1 && !placesFrames(packing)) {
                throw new IllegalArgumentException(
                        "stage '" + stage + "': sample " + i + " is a clip of " + f[0] + " frames, " + FRAMES_UNPLACED);
            }
            fhw.add(f);
        }
        for (int[] f : fhw) {
            shapes.add(Tensor.zeros(DType.F32, channels, f[0], f[1], f[2])); // only its shape matters here
        }
        int length = rowLength > 0 ? rowLength : (int) longest;
        if (longest > length) {
            throw new IllegalArgumentException("stage '" + stage + "': a sample of " + longest
                    + " tokens does not fit rows of pack = " + length + "; raise pack");
        }
        return new PackedBatch(packing, Patches.pack(shapes, 1, p, length), channels, List.copyOf(fhw), clips);
    }

    /** Whether the model's positions tell a clip's frames apart: rotary ones with a time section. */
    static boolean placesFrames(ModelContract.Packing packing) {
        return packing.positions() instanceof ModelContract.Positions.Rotary r && r.sections()[0] > 0;
    }

    /** Why a model whose positions do not {@link #placesFrames place frames} takes no clips. */
    static final String FRAMES_UNPLACED = "but the model's positions place tokens in a frame only (rotary positions"
            + " with a time section, rope_sections = [t, h, w], place them in a clip)";

    PackPlan plan() {
        return packed.plan();
    }

    int rows() {
        return packed.plan().rows();
    }

    int rowLength() {
        return packed.plan().rowLength();
    }

    int samples() {
        return sizes.size();
    }

    /** The sampler's view of the rows: [R, L, C, p·p]. */
    int[] latentShape() {
        int p = packing.patch();
        return new int[] {rows(), rowLength(), channels, p * p};
    }

    /** The row that holds sample {@code e}'s tokens (it is never split). */
    int row(int e) {
        return packed.plan().placements().get(e).row();
    }

    /**
     * The model's packing inputs for the rows repeated {@code copies} times (2 under guidance,
     * whose conditional and unconditional halves run in one call): copy k's samples are numbered
     * k·E + e, so that each token gathers its own copy's conditioning.
     *
     * @param positionWidth the width of a sin-cos position table
     */
    Map<String, Tensor> inputs(int copies, int positionWidth) {
        return inputs(packing, packed, samples(), copies, positionWidth);
    }

    /** {@link #inputs(int, int)} of any packed rows of {@code samples} samples. */
    static Map<String, Tensor> inputs(
            ModelContract.Packing packing, Patches.Packed packed, int samples, int copies, int positionWidth) {
        Map<String, Tensor> in = new LinkedHashMap<>();
        in.put(packing.segments(), repeat(packed.segments(), copies, 0));
        in.put(packing.gather(), repeat(packed.gather(), copies, samples));
        switch (packing.positions()) {
            case ModelContract.Positions.SinCos s ->
                in.put(s.input(), repeat(Patches.sinCos2d(packed, positionWidth), copies, 0));
            case ModelContract.Positions.Learned l -> {
                Tensor[] rc = Patches.rowsAndColumns(packed, l.table(), l.fractional());
                in.put(l.rows(), repeat(rc[0], copies, 0));
                in.put(l.cols(), repeat(rc[1], copies, 0));
            }
            case ModelContract.Positions.Rotary r -> {
                Tensor[] cs = Patches.rotary(packed, r.sections(), ROPE_THETA);
                in.put(r.cos(), repeat(cs[0], copies, 0));
                in.put(r.sin(), repeat(cs[1], copies, 0));
            }
        }
        return in;
    }

    /** The base of rope_3d's frequencies, θ_i = 10000^(−2i/d), as RoFormer's. */
    private static final double ROPE_THETA = 10000;

    /**
     * {@code t} [R, …] stacked {@code copies} times along the rows; an I64 copy k adds k·shift
     * to every entry (gather ids: padding's 0 becomes k·E, a valid id either way).
     */
    private static Tensor repeat(Tensor t, int copies, long shift) {
        if (copies == 1) {
            return t;
        }
        int[] shape = t.shape();
        int n = shape[0];
        shape[0] = n * copies;
        if (t.dtype() == DType.I64) {
            long[] v = t.toLongArray();
            long[] out = new long[v.length * copies];
            for (int k = 0; k < copies; k++) {
                for (int i = 0; i < v.length; i++) {
                    out[k * v.length + i] = v[i] + k * shift;
                }
            }
            return Tensor.ofLongs(Arena.ofAuto(), out, shape);
        }
        Tensor out = Tensor.zeros(t.dtype(), shape);
        for (int k = 0; k < copies; k++) {
            out.slice(0, k * n, (k + 1) * n).copyFrom(t);
        }
        return out;
    }

    /**
     * x_T: each sample's own standard normal noise [C, F, H, W], drawn in sample order from one
     * stream — for samples of one size, exactly the x_T an unpacked batch [N, C, H, W] draws from
     * the same seed — packed into the rows (padding 0).
     */
    Tensor startNoise(long seed, WorkerPool pool) {
        List<int[]> shapes = new ArrayList<>();
        for (int[] s : sizes) {
            shapes.add(new int[] {channels, s[0], s[1], s[2]});
        }
        List<Tensor> examples = exampleNoise(shapes, new RandomStream(seed, 0), pool);
        Tensor rows = Patches.pack(examples, 1, packing.patch(), rowLength()).tokens();
        return rows.reshape(latentShape());
    }

    /**
     * Standard normal noise for examples of {@code shapes}, drawn in example order from one
     * {@code stream}: example e takes the values after those of examples 0..e−1, so a batch of one
     * size draws what an unpacked batch [N, ...] of it draws.
     */
    static List<Tensor> exampleNoise(List<int[]> shapes, RandomStream stream, WorkerPool pool) {
        long total = 0;
        for (int[] s : shapes) {
            total += org.tessera.engine.tensor.Shapes.numel(s);
        }
        if (total > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("the examples hold " + total + " values, more than one array");
        }
        Tensor all = Tensor.zeros(DType.F32, (int) total);
        stream.fillNormal(all, pool);
        List<Tensor> out = new ArrayList<>();
        int offset = 0;
        for (int[] s : shapes) {
            int n = (int) org.tessera.engine.tensor.Shapes.numel(s);
            out.add(all.slice(0, offset, offset + n).reshape(s));
            offset += n;
        }
        return out;
    }

    /**
     * The sampled rows x [R, L, C, p·p] cut into samples, as one batch padded to the largest with
     * {@code fill} (−1, black, for images in [−1, 1]): [N, C, H, W] for images, or [N, F, C, H, W]
     * when any sample is a clip (an image is then a clip of one frame, held to the last frame).
     */
    Tensor unpack(Tensor x, float fill) {
        int p = packing.patch();
        Tensor flat = (x.isContiguous() ? x : x.contiguous()).reshape(rows(), rowLength(), channels * p * p);
        List<Tensor> parts = Patches.unpack(flat, plan(), channels, 1, p, Patches.Order.CHANNELS_FIRST);
        return padded(parts, sizes, channels, clips, fill);
    }

    /**
     * Examples [C, F_e, H_e, W_e] of sizes [F_e, H_e, W_e] as one batch padded to the largest with
     * {@code fill}: [N, C, H, W], or [N, F, C, H, W] with {@code clips} (an image is then a clip of
     * one frame, held to the last frame).
     */
    static Tensor padded(List<Tensor> parts, List<int[]> sizes, int channels, boolean clips, float fill) {
        int f = 1;
        int h = 1;
        int w = 1;
        for (int[] s : sizes) {
            f = Math.max(f, s[0]);
            h = Math.max(h, s[1]);
            w = Math.max(w, s[2]);
        }
        int n = sizes.size();
        float[] out = new float[Math.multiplyExact(Math.multiplyExact(n * f, channels), h * w)];
        java.util.Arrays.fill(out, fill);
        for (int e = 0; e < n; e++) {
            float[] v = parts.get(e).toFloatArray(); // [C, F_e, H_e, W_e]
            int[] s = sizes.get(e);
            for (int t = 0; t < f; t++) {
                int from = Math.min(t, s[0] - 1);
                for (int c = 0; c < channels; c++) {
                    for (int y = 0; y < s[1]; y++) {
                        int src = ((c * s[0] + from) * s[1] + y) * s[2];
                        int dst = (((e * f + t) * channels + c) * h + y) * w;
                        System.arraycopy(v, src, out, dst, s[2]);
                    }
                }
            }
        }
        return clips
                ? Tensor.of(Arena.ofAuto(), out, n, f, channels, h, w)
                : Tensor.of(Arena.ofAuto(), out, n, channels, h, w);
    }

    /** Each sample's own size: [H, W] each, or [F, H, W] each when {@code clips}. */
    static int[][] ownSizes(List<int[]> sizes, boolean clips) {
        int[][] out = new int[sizes.size()][];
        for (int e = 0; e < out.length; e++) {
            int[] s = sizes.get(e);
            out[e] = clips ? s.clone() : new int[] {s[1], s[2]};
        }
        return out;
    }

    /** Each sample's own [H, W] (images) or [F, H, W] (a batch with clips). */
    int[][] sampleSizes() {
        return ownSizes(sizes, clips);
    }
}
