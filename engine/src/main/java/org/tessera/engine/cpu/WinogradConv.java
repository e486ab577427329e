package org.tessera.engine.cpu;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;
import org.tessera.engine.parallel.WorkerPool;
import org.tessera.engine.tensor.Tensor;

/**
 * 3×3 convolutions with unit stride and padding 1 (the SD VAE decoder's, but its first and
 * last) by Winograd's minimal filtering F(2×2, 3×3) (Lavin and Gray, "Fast Algorithms for
 * Convolutional Neural Networks", 2015).
 *
 * <p>Each 2×2 block of one output channel's values (a tile) is
 *
 * <pre>
 *   Y = Aᵀ [ Σ_c (G g Gᵀ) ⊙ (Bᵀ d B) ] A
 *
 *   Bᵀ = | 1  0 −1  0 |    G = | 1   0   0 |    Aᵀ = | 1  1  1  0 |
 *        | 0  1  1  0 |        | ½   ½   ½ |         | 0  1 −1 −1 |
 *        | 0 −1  1  0 |        | ½  −½   ½ |
 *        | 0  1  0 −1 |        | 0   0   1 |
 * </pre>
 *
 * where d is input channel c's 4×4 window under the tile (the padding's zeros included) and g the
 * 3×3 kernel from c to the output channel. Numbering the 16 places of a transformed 4×4 tile ξ,
 * the sum over channels is 16 independent matrix products over all P tiles,
 *
 * <pre>
 *   M_ξ [O, P] = U_ξ [O, C] · V_ξ [C, P],   U_ξ = (G g Gᵀ)_ξ,   V_ξ = (Bᵀ d B)_ξ,
 * </pre>
 *
 * 16·O·C·P multiply-adds where the direct convolution has 36·O·C·P: 2.25× fewer, done by the
 * GEMM. The transforms only add, subtract and halve, so they cost memory traffic rather than
 * precision.
 *
 * <p>Tiles go through in blocks of whole tile rows, so V and M stay under {@link #BLOCK_FLOATS}
 * each whatever the image size; a block is transformed in, multiplied and transformed out
 * before the next. The input transform writes V_ξ in the GEMM's B-panel layout, so the products
 * pack nothing but U_ξ's rows: with C = 128 (K of the products) packing a V_ξ of 4,096 tiles per
 * call cost the GEMMs a good share of their time. The transforms of a tile row run across its
 * tiles in vectors: the input rows' even and odd columns are split once, after which the four
 * columns a tile reads are four contiguous runs (tile k reads columns 2k − 1 … 2k + 2).
 */
final class WinogradConv {
    /**
     * Fewest input and output channels for this route (a convolution with fewer takes im2col, e.g.
     * the VAE's first, 4 → 512, and last, 128 → 3): the products' K and M. Chosen, not measured
     * below 128 channels; from 128 up bench/conv-layers.sh measures the route 1.2–1.7× faster.
     */
    static final int MIN_CHANNELS = 16;
    /** Most floats of V, and of M, per block of tile rows (32 MiB each). */
    static final long BLOCK_FLOATS = 1L << 23;

    private static final VectorSpecies<Float> S = VectorMath.S;
    private static final int L = VectorMath.L;
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();
    /**
     * Two vectors' lanes taken apart (EVEN: lanes 0, 2, 4, … of the pair; ODD: 1, 3, 5, …) and put
     * together again (ZIP_LOW: lane 0 of each in turn, then 1, …; ZIP_HIGH: the second half). An
     * index of L or more names the second vector's lane (index − L).
     */
    private static final VectorShuffle<Float> EVEN = VectorShuffle.fromOp(S, i -> 2 * i);

    private static final VectorShuffle<Float> ODD = VectorShuffle.fromOp(S, i -> 2 * i + 1);
    private static final VectorShuffle<Float> ZIP_LOW = VectorShuffle.fromOp(S, i -> i / 2 + (i % 2) * L);
    private static final VectorShuffle<Float> ZIP_HIGH = VectorShuffle.fromOp(S, i -> (L + i) / 2 + (i % 2) * L);

    private final WorkerPool pool;
    private final VectorGemm gemm;
    private final long blockFloats;
    /** Per calling thread: U, V and M, each a growable segment (the GEMM's workers read them). */
    private final ThreadLocal<Buffers> buffers = ThreadLocal.withInitial(Buffers::new);
    /** Per executing thread: one tile row's split input rows, or its 16 product rows and 4 output rows. */
    private static final ThreadLocal<float[]> ROW = ThreadLocal.withInitial(() -> new float[0]);

    WinogradConv(WorkerPool pool, VectorGemm gemm) {
        this(pool, gemm, BLOCK_FLOATS);
    }

    /** With blocks of at most {@code blockFloats} (tests make them small, to cut an image into several). */
    WinogradConv(WorkerPool pool, VectorGemm gemm, long blockFloats) {
        this.pool = pool;
        this.gemm = gemm;
        this.blockFloats = blockFloats;
    }

    /**
     * {@code -Dtessera.conv.winograd=false} sends every convolution through im2col instead, so
     * that a benchmark can set the two side by side (read per call: one map lookup, next to
     * millions of multiply-adds, so a benchmark can switch within one JVM).
     */
    static final String PROPERTY = "tessera.conv.winograd";

    /** Whether a convolution takes this route: a 3×3 kernel, stride 1, padding 1, enough channels. */
    static boolean applies(Tensor weight, int stride, int padding) {
        return !"false".equals(System.getProperty(PROPERTY))
                && weight.size(2) == 3
                && weight.size(3) == 3
                && stride == 1
                && padding == 1
                && weight.size(0) >= MIN_CHANNELS
                && weight.size(1) >= MIN_CHANNELS;
    }

    /** U, V and M of the calling thread, grown to the largest call so far. */
    private static final class Buffers {
        private MemorySegment u = MemorySegment.NULL;
        private MemorySegment m = MemorySegment.NULL;
        /** V_ξ, each already in the GEMM's B-panel layout ({@link CpuPackedMatrix}), so no call packs it. */
        private final float[][] v = new float[16][0];

        MemorySegment u(long floats) {
            return u = atLeast(u, floats);
        }

        MemorySegment m(long floats) {
            return m = atLeast(m, floats);
        }

        float[][] v(int floats) {
            for (int xi = 0; xi < 16; xi++) {
                if (v[xi].length < floats) {
                    v[xi] = new float[floats];
                }
            }
            return v;
        }

        private static MemorySegment atLeast(MemorySegment segment, long floats) {
            return segment.byteSize() >= 4 * floats ? segment : Arena.ofAuto().allocate(4 * floats, 64);
        }
    }

    /**
     * out [N, O, H, W] = conv2d(x [N, C, H, W], weight [O, C, 3, 3], stride 1, padding 1) + bias
     * [O] (contiguous, or null). Any strides for x, weight and out; shapes checked by the caller.
     */
    void conv2d(Tensor x, Tensor weight, Tensor bias, Tensor out) {
        int c = x.size(1);
        int h = x.size(2);
        int w = x.size(3);
        int o = weight.size(0);
        int tileRows = (h + 1) / 2;
        int tw = (w + 1) / 2;
        int blockRows = (int) Math.max(1, Math.min(tileRows, blockFloats / (16L * Math.max(c, o) * tw)));
        Buffers buf = buffers.get();
        MemorySegment u = buf.u(16L * o * c);
        float[][] v = buf.v(Math.multiplyExact(panels(blockRows * tw) * GemmKernel.NR, c));
        MemorySegment m = buf.m(16L * o * blockRows * tw);
        transformWeights(weight, u);
        for (int b = 0; b < x.size(0); b++) {
            Tensor image = x.select(0, b);
            Tensor dst = out.select(0, b);
            for (int ty0 = 0; ty0 < tileRows; ty0 += blockRows) {
                int rows = Math.min(blockRows, tileRows - ty0);
                int p = rows * tw; // tiles in this block: V_ξ is [C, p], M_ξ [O, p]
                int first = ty0;
                ParallelLoops.rows(
                        pool,
                        (long) c * rows,
                        8L * w,
                        (from, to) -> transformInput(image, v, first, rows, p, from, to));
                for (int xi = 0; xi < 16; xi++) {
                    gemm.gemm(u, (long) xi * o * c, new CpuPackedMatrix(c, p, v[xi]), m, (long) xi * o * p, o);
                }
                ParallelLoops.rows(
                        pool,
                        (long) o * rows,
                        8L * w,
                        (from, to) -> transformOutput(m, dst, bias, first, rows, p, from, to));
            }
        }
    }

    /** U_ξ [O, C] = (G g Gᵀ)_ξ for every kernel g of {@code weight}, U_ξ at ξ·O·C. */
    private void transformWeights(Tensor weight, MemorySegment u) {
        int o = weight.size(0);
        int c = weight.size(1);
        MemorySegment ws = weight.storage();
        long sy = weight.stride(2);
        long sx = weight.stride(3);
        long plane = (long) o * c;
        ParallelLoops.rows(pool, o, 16L * c, (from, to) -> {
            float[] gg = new float[12]; // G·g, 4 rows of 3
            for (long oo = from; oo < to; oo++) {
                for (int cc = 0; cc < c; cc++) {
                    long at = weight.offset() + oo * weight.stride(0) + cc * weight.stride(1);
                    for (int kx = 0; kx < 3; kx++) { // G down each of the kernel's columns
                        float g0 = ws.getAtIndex(F, at + kx * sx);
                        float g1 = ws.getAtIndex(F, at + sy + kx * sx);
                        float g2 = ws.getAtIndex(F, at + 2 * sy + kx * sx);
                        gg[kx] = g0;
                        gg[3 + kx] = 0.5f * (g0 + g1 + g2);
                        gg[6 + kx] = 0.5f * (g0 - g1 + g2);
                        gg[9 + kx] = g2;
                    }
                    long dst = oo * c + cc;
                    for (int i = 0; i < 4; i++) { // and Gᵀ along each row of G·g
                        float a = gg[3 * i];
                        float b = gg[3 * i + 1];
                        float e = gg[3 * i + 2];
                        u.setAtIndex(F, (4 * i) * plane + dst, a);
                        u.setAtIndex(F, (4 * i + 1) * plane + dst, 0.5f * (a + b + e));
                        u.setAtIndex(F, (4 * i + 2) * plane + dst, 0.5f * (a - b + e));
                        u.setAtIndex(F, (4 * i + 3) * plane + dst, e);
                    }
                }
            }
        });
    }

    /** A float[] of at least {@code n} for this thread, holding whatever its last use left. */
    private static float[] row(int n) {
        float[] r = ROW.get();
        if (r.length < n) {
            r = new float[n];
            ROW.set(r);
        }
        return r;
    }

    /** The vector-rounded length of a tile row's arrays, with room for the one-further read. */
    private static int span(int tw) {
        return (tw + 1 + L - 1) / L * L + L;
    }

    /**
     * V for units [from, to) of (channel, tile row of the block): row cc, column (ty − ty0)·tw + k
     * of V_ξ is (Bᵀ d B)_ξ of tile k, written straight into V_ξ's B panels.
     */
    private static void transformInput(Tensor image, float[][] v, int ty0, int rows, int p, long from, long to) {
        int c = image.size(0);
        int h = image.size(1);
        int w = image.size(2);
        int tw = (w + 1) / 2;
        int n = span(tw);
        // Rows 0–7: input row r's even-numbered padded columns (2k − 1) and odd ones (2k), then
        // Bᵀ down them in place; rows 8–23: the 16 transformed rows before they are copied out.
        float[] s = row(24 * n);
        MemorySegment xs = image.storage();
        long sc = image.stride(0);
        long sy = image.stride(1);
        long sx = image.stride(2);
        for (long unit = from; unit < to; unit++) {
            int cc = (int) (unit / rows);
            int tr = (int) (unit % rows);
            int ty = ty0 + tr;
            for (int r = 0; r < 4; r++) {
                int y = 2 * ty - 1 + r;
                int even = 2 * r * n;
                int odd = even + n;
                java.util.Arrays.fill(s, even, odd + n, 0f);
                if (y < 0 || y >= h) {
                    continue;
                }
                long at = image.offset() + cc * sc + y * sy;
                int k = 0;
                if (sx == 1) {
                    // Whole vectors of the row's interior: 2L columns from 2k − 1 split into
                    // their even and odd lanes.
                    s[odd] = xs.getAtIndex(F, at);
                    for (k = 1; 2 * k - 1 + 2 * L <= w; k += L) {
                        FloatVector lo = FloatVector.fromMemorySegment(S, xs, 4 * (at + 2 * k - 1), NATIVE);
                        FloatVector hi = FloatVector.fromMemorySegment(S, xs, 4 * (at + 2 * k - 1 + L), NATIVE);
                        lo.rearrange(EVEN, hi).intoArray(s, even + k);
                        lo.rearrange(ODD, hi).intoArray(s, odd + k);
                    }
                }
                for (; k <= tw; k++) {
                    int col = 2 * k - 1;
                    if (col >= 0 && col < w) {
                        s[even + k] = xs.getAtIndex(F, at + col * sx);
                    }
                    if (col + 1 < w) {
                        s[odd + k] = xs.getAtIndex(F, at + (col + 1) * sx);
                    }
                }
            }
            // Bᵀ down the columns: t0 = d0 − d2, t1 = d1 + d2, t2 = d2 − d1, t3 = d1 − d3.
            for (int k = 0; k < n; k += L) {
                for (int half = 0; half < 2; half++) {
                    int col = half * n + k;
                    FloatVector d0 = FloatVector.fromArray(S, s, col);
                    FloatVector d1 = FloatVector.fromArray(S, s, 2 * n + col);
                    FloatVector d2 = FloatVector.fromArray(S, s, 4 * n + col);
                    FloatVector d3 = FloatVector.fromArray(S, s, 6 * n + col);
                    d0.sub(d2).intoArray(s, col);
                    d1.add(d2).intoArray(s, 2 * n + col);
                    d2.sub(d1).intoArray(s, 4 * n + col);
                    d1.sub(d3).intoArray(s, 6 * n + col);
                }
            }
            // B along the rows, tile k reading columns a = even[k], b = odd[k], c = even[k + 1],
            // d = odd[k + 1]: v0 = a − c, v1 = b + c, v2 = c − b, v3 = b − d.
            for (int k = 0; k < tw; k += L) {
                for (int i = 0; i < 4; i++) {
                    int even = 2 * i * n;
                    FloatVector a = FloatVector.fromArray(S, s, even + k);
                    FloatVector b = FloatVector.fromArray(S, s, even + n + k);
                    FloatVector e = FloatVector.fromArray(S, s, even + k + 1);
                    FloatVector d = FloatVector.fromArray(S, s, even + n + k + 1);
                    int out = (8 + 4 * i) * n + k;
                    a.sub(e).intoArray(s, out);
                    b.add(e).intoArray(s, out + n);
                    e.sub(b).intoArray(s, out + 2 * n);
                    b.sub(d).intoArray(s, out + 3 * n);
                }
            }
            // Into V_ξ's panels: tile column j of channel cc at (j / NR)·C·NR + cc·NR + j % NR.
            int nr = GemmKernel.NR;
            for (int xi = 0; xi < 16; xi++) {
                float[] panels = v[xi];
                for (int k = 0; k < tw; ) {
                    int j = tr * tw + k;
                    int run = Math.min(nr - j % nr, tw - k);
                    System.arraycopy(s, (8 + xi) * n + k, panels, (j / nr) * c * nr + cc * nr + j % nr, run);
                    k += run;
                }
                if (tr == rows - 1 && p % nr != 0) { // the last panel's columns past p are zero
                    int at = (p / nr) * c * nr + cc * nr;
                    java.util.Arrays.fill(panels, at + p % nr, at + nr, 0f);
                }
            }
        }
    }

    /** Output rows of units [from, to) of (output channel, tile row of the block), from M, plus the bias. */
    private static void transformOutput(
            MemorySegment m, Tensor dst, Tensor bias, int ty0, int rows, int p, long from, long to) {
        int o = dst.size(0);
        int h = dst.size(1);
        int w = dst.size(2);
        int tw = (w + 1) / 2;
        int n = span(tw);
        // Rows 0–15: M's 16 values of each tile of the row; rows 16–19: the tiles' four outputs.
        float[] s = row(20 * n);
        MemorySegment ds = dst.storage();
        long plane = (long) o * p;
        for (long unit = from; unit < to; unit++) {
            int oo = (int) (unit / rows);
            int tr = (int) (unit % rows);
            long src = (long) oo * p + (long) tr * tw;
            for (int xi = 0; xi < 16; xi++) {
                MemorySegment.copy(m, F, 4 * (xi * plane + src), s, xi * n, tw);
            }
            FloatVector beta = FloatVector.broadcast(S, bias == null ? 0f : bias.getFloat(oo));
            // Aᵀ down: s0_j = m0j + m1j + m2j, s1_j = m1j − m2j − m3j; then A along each row:
            // y_r0 = s_r0 + s_r1 + s_r2, y_r1 = s_r1 − s_r2 − s_r3.
            for (int k = 0; k < tw; k += L) {
                FloatVector top0 = column(s, n, k, 0, true);
                FloatVector top1 = column(s, n, k, 1, true);
                FloatVector top2 = column(s, n, k, 2, true);
                FloatVector top3 = column(s, n, k, 3, true);
                FloatVector bottom0 = column(s, n, k, 0, false);
                FloatVector bottom1 = column(s, n, k, 1, false);
                FloatVector bottom2 = column(s, n, k, 2, false);
                FloatVector bottom3 = column(s, n, k, 3, false);
                top0.add(top1).add(top2).add(beta).intoArray(s, 16 * n + k);
                top1.sub(top2).sub(top3).add(beta).intoArray(s, 17 * n + k);
                bottom0.add(bottom1).add(bottom2).add(beta).intoArray(s, 18 * n + k);
                bottom1.sub(bottom2).sub(bottom3).add(beta).intoArray(s, 19 * n + k);
            }
            int y = 2 * (ty0 + tr);
            for (int dy = 0; dy < 2 && y + dy < h; dy++) {
                long at = dst.offset() + oo * dst.stride(0) + (y + dy) * dst.stride(1);
                int left = (16 + 2 * dy) * n;
                int right = left + n;
                int k = 0;
                if (dst.stride(2) == 1) {
                    // Whole vectors: L tiles' left and right values zipped into 2L columns.
                    for (; 2 * k + 2 * L <= w; k += L) {
                        FloatVector a = FloatVector.fromArray(S, s, left + k);
                        FloatVector b = FloatVector.fromArray(S, s, right + k);
                        a.rearrange(ZIP_LOW, b).intoMemorySegment(ds, 4 * (at + 2L * k), NATIVE);
                        a.rearrange(ZIP_HIGH, b).intoMemorySegment(ds, 4 * (at + 2L * k + L), NATIVE);
                    }
                }
                for (; k < tw; k++) {
                    ds.setAtIndex(F, at + 2L * k * dst.stride(2), s[left + k]);
                    if (2 * k + 1 < w) {
                        ds.setAtIndex(F, at + (2L * k + 1) * dst.stride(2), s[right + k]);
                    }
                }
            }
        }
    }

    /** Aᵀ's row 0 (m0j + m1j + m2j) or row 1 (m1j − m2j − m3j) down column j of tiles k… of M's rows in {@code s}. */
    private static FloatVector column(float[] s, int n, int k, int j, boolean top) {
        FloatVector m1 = FloatVector.fromArray(S, s, (4 + j) * n + k);
        FloatVector m2 = FloatVector.fromArray(S, s, (8 + j) * n + k);
        return top
                ? FloatVector.fromArray(S, s, j * n + k).add(m1).add(m2)
                : m1.sub(m2).sub(FloatVector.fromArray(S, s, (12 + j) * n + k));
    }

    /** B panels of NR columns that {@code columns} columns take. */
    private static int panels(int columns) {
        return (columns + GemmKernel.NR - 1) / GemmKernel.NR;
    }
}
