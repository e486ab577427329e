package org.tessera.engine.cpu;

import static org.tessera.engine.cpu.GemmKernel.L;
import static org.tessera.engine.cpu.GemmKernel.MR;
import static org.tessera.engine.cpu.GemmKernel.NR;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Flash attention for one panel of NR queries of one (batch, head), and the per-thread buffers
 * it runs in.
 *
 * <p>The panel walks the keys in blocks of {@link #BK}, never holding more than BK×NR logits,
 * and keeps the online-softmax state per query: the running maximum m, the running sum
 * l = Σ exp(s − m) and the unnormalised output O = Σ exp(s − m)·v. For each key block:
 *
 * <pre>
 * Sᵀ = K_blk · (scale·Q)ᵀ + mask             GEMM kernel: A = packed K, B = packed Qᵀ
 * m' = max(m, max_keys Sᵀ);  α = exp(m − m')
 * Pᵀ = exp(Sᵀ − m');  l = α·l + Σ_keys Pᵀ;  Oᵀ = α·Oᵀ + Vᵀ_blk · Pᵀ   GEMM kernel: A = packed Vᵀ, B = Pᵀ
 * </pre>
 *
 * and at the end out = O / l. Working on the transposed problem is the trick: the register
 * kernel's MR×NR tile of Sᵀ holds MR keys × NR queries, row-major, which is exactly the packed
 * B layout that the second GEMM wants for Pᵀ, so the probabilities never need repacking; and
 * every softmax reduction runs over keys, i.e. across tile rows, so m and l are plain vectors
 * over queries with no horizontal reductions. A head dimension of 72 also splits into whole
 * MR-row micro-panels of Vᵀ with no padding (six of 12 rows, twelve of 6, eighteen of 4).
 */
final class AttentionPanel {
    /**
     * Most keys per block, a multiple of MR: the Pᵀ block (BK×NR floats: 33 KiB with the 12×32
     * tile, 5.5 KiB with 4×16) stays in L1.
     */
    static final int BK = 22 * MR;

    private static final VectorSpecies<Float> S = GemmKernel.S;
    private static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, S.vectorShape());
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final float NEG_INF = Float.NEGATIVE_INFINITY;
    private static final ThreadLocal<AttentionPanel> LOCAL = ThreadLocal.withInitial(AttentionPanel::new);

    /** Scaled Qᵀ [d × NR] as one packed B micro-panel: element (c, i) at c·NR + i. */
    private float[] qt = new float[0];
    /** Oᵀ accumulator [dPanels·MR × NR], row c (head-dimension column) at c·NR. */
    private float[] ot = new float[0];
    /** Sᵀ, then Pᵀ, of the current key block [BK × NR]: key j at j·NR. */
    private final float[] pt = new float[BK * NR];
    /** The additive bias of the current block, transposed like Sᵀ. */
    private final float[] biasT = new float[BK * NR];
    /** The register kernel's result tile. */
    private final float[] tile = new float[MR * NR];
    /** Running max m and sum l per query. */
    private final float[] max = new float[NR];

    private final float[] sum = new float[NR];
    /** The maximum of the current block's logits per query. */
    private final float[] blockMax = new float[NR];
    /** Scratch for the exp helpers: α per query, the shift per query, a block's row sums. */
    private final float[] alpha = new float[NR];

    private final float[] shift = new float[NR];
    private final float[] blockSum = new float[NR];
    /** Segment ids of the panel's queries. */
    private final int[] segs = new int[NR];

    private AttentionPanel() {}

    static AttentionPanel forThisThread() {
        return LOCAL.get();
    }

    /**
     * Computes out[b, h, p·NR .. p·NR + NR) from the packed K and Vᵀ of pair (b, h) at
     * {@code job.kv.floats()[kvOff..]}.
     */
    void run(AttentionJob job, int b, int h, int kvOff, int panel) {
        int d = job.d;
        int nk = job.nk;
        int q0 = panel * NR;
        int qn = Math.min(NR, job.nq - q0);
        if (qt.length < d * NR) {
            qt = new float[d * NR];
        }
        if (ot.length < job.dPanels * MR * NR) {
            ot = new float[job.dPanels * MR * NR];
        }
        // Qᵀ as a B panel (element (c, i) = Q[q0 + i, c]), pre-scaled so the kernel yields scale·q·k.
        AttentionPack.forThisThread()
                .packRowsTransposed(
                        job.qSeg,
                        job.qOff + b * job.qs[0] + h * job.qs[1],
                        job.qs[2],
                        job.qs[3],
                        q0,
                        qn,
                        d,
                        job.scale,
                        qt);
        Arrays.fill(ot, 0, job.dPanels * MR * NR, 0f);
        Arrays.fill(max, NEG_INF);
        Arrays.fill(sum, 0f);

        int[] keySegs = null;
        int qMin = 0;
        int qMax = 0;
        if (job.keySegments != null) {
            keySegs = job.keySegments[b];
            int[] querySegs = job.querySegments[b];
            qMin = Integer.MAX_VALUE;
            qMax = Integer.MIN_VALUE;
            for (int i = 0; i < NR; i++) {
                // Padding lanes repeat the last query: they must not widen the panel's range.
                int s = querySegs[q0 + Math.min(i, qn - 1)];
                segs[i] = s;
                qMin = Math.min(qMin, s);
                qMax = Math.max(qMax, s);
            }
        }
        long biasBase = job.biasOff + b * job.bs[0] + h * job.bs[1];
        int block = job.keyBlock;
        for (int k0 = 0; k0 < nk; k0 += block) {
            int kn = Math.min(block, nk - k0);
            if (keySegs != null && !overlaps(keySegs, k0, kn, qMin, qMax)) {
                continue; // no query of the panel sees any key of the block: its logits are all −∞
            }
            if (job.biasSeg != null && job.bs[2] != 0) {
                gatherBias(job, biasBase, q0, qn, k0, kn);
            }
            logits(job, kvOff, k0, kn, keySegs, biasBase);
            softmaxAndAccumulate(job, kvOff, k0, kn);
        }
        store(job, b, h, q0, qn);
    }

    /** Whether segment ids [min, max] of keys k0..k0+kn meet the queries' [qMin, qMax]. */
    private static boolean overlaps(int[] keySegs, int k0, int kn, int qMin, int qMax) {
        int min = Integer.MAX_VALUE;
        int max = Integer.MIN_VALUE;
        for (int j = k0; j < k0 + kn; j++) {
            min = Math.min(min, keySegs[j]);
            max = Math.max(max, keySegs[j]);
        }
        return max >= qMin && min <= qMax;
    }

    /** biasT[j·NR + i] = bias[q0 + i, k0 + j]: the block's bias in the transposed layout of Sᵀ. */
    private void gatherBias(AttentionJob job, long base, int q0, int qn, int k0, int kn) {
        MemorySegment seg = job.biasSeg;
        long rs = job.bs[2];
        long cs = job.bs[3];
        for (int i = 0; i < qn; i++) {
            long row = base + (q0 + i) * rs + k0 * cs;
            for (int j = 0, at = i; j < kn; j++, at += NR) {
                biasT[at] = seg.getAtIndex(F, row + j * cs);
            }
        }
    }

    /**
     * pt = Sᵀ for keys k0..k0+kn: one register tile per MR keys, masked, then copied row by row
     * into the B-panel layout (key j at j·NR); blockMax = the maximum over those keys per query
     * (a max over the rows of Sᵀ), taken on the way.
     */
    private void logits(AttentionJob job, int kvOff, int k0, int kn, int[] keySegs, long biasBase) {
        int d = job.d;
        boolean biasPerKey = job.biasSeg != null && job.bs[2] == 0; // e.g. a key-padding mask [B, 1, 1, Nk]
        boolean biasGathered = job.biasSeg != null && !biasPerKey;
        IntVector seg0 = null;
        IntVector seg1 = null;
        if (keySegs != null) {
            seg0 = IntVector.fromArray(I, segs, 0);
            seg1 = IntVector.fromArray(I, segs, L);
        }
        FloatVector max0 = FloatVector.broadcast(S, NEG_INF);
        FloatVector max1 = max0;
        if (job.biasSeg == null && keySegs == null) {
            // Nothing to add: the kernel writes Sᵀ straight into pt (the last tile's rows past kn
            // land in pt's spare rows), and the maximum is a second pass over it in L1: 1–2% of
            // the DiT-shaped call against copying each tile in (interleaved in one JVM).
            for (int j0 = 0; j0 < kn; j0 += MR) {
                GemmKernel.kernel(job.kv, kvOff + (k0 + j0) * d, qt, 0, d, pt, j0 * NR);
            }
            for (int j = 0; j < kn; j++) {
                max0 = max0.max(FloatVector.fromArray(S, pt, j * NR));
                max1 = max1.max(FloatVector.fromArray(S, pt, j * NR + L));
            }
            max0.intoArray(blockMax, 0);
            max1.intoArray(blockMax, L);
            return;
        }
        for (int j0 = 0; j0 < kn; j0 += MR) {
            GemmKernel.kernel(job.kv, kvOff + (k0 + j0) * d, qt, 0, d, tile, 0);
            int rows = Math.min(MR, kn - j0);
            for (int r = 0; r < rows; r++) {
                int j = j0 + r;
                FloatVector s0 = FloatVector.fromArray(S, tile, r * NR);
                FloatVector s1 = FloatVector.fromArray(S, tile, r * NR + L);
                if (biasGathered) {
                    s0 = s0.add(FloatVector.fromArray(S, biasT, j * NR));
                    s1 = s1.add(FloatVector.fromArray(S, biasT, j * NR + L));
                } else if (biasPerKey) {
                    float bias = job.biasSeg.getAtIndex(F, biasBase + (k0 + j) * job.bs[3]);
                    s0 = s0.add(bias);
                    s1 = s1.add(bias);
                } else if (keySegs != null) {
                    // A key outside a query's segment gets logit −∞, i.e. weight 0.
                    int ks = keySegs[k0 + j];
                    s0 = s0.blend(NEG_INF, seg0.compare(VectorOperators.NE, ks).cast(S));
                    s1 = s1.blend(NEG_INF, seg1.compare(VectorOperators.NE, ks).cast(S));
                }
                s0.intoArray(pt, j * NR);
                s1.intoArray(pt, j * NR + L);
                max0 = max0.max(s0);
                max1 = max1.max(s1);
            }
        }
        max0.intoArray(blockMax, 0);
        max1.intoArray(blockMax, L);
    }

    /** The online-softmax update for the block in pt, then Oᵀ = α·Oᵀ + Vᵀ_blk·Pᵀ. */
    private void softmaxAndAccumulate(AttentionJob job, int kvOff, int k0, int kn) {
        FloatVector b0 = FloatVector.fromArray(S, blockMax, 0);
        FloatVector b1 = FloatVector.fromArray(S, blockMax, L);
        FloatVector m0 = FloatVector.fromArray(S, max, 0);
        FloatVector m1 = FloatVector.fromArray(S, max, L);
        FloatVector n0 = m0.max(b0);
        FloatVector n1 = m1.max(b1);
        n0.intoArray(max, 0);
        n1.intoArray(max, L);
        // A query that has seen no key yet keeps m = −∞; shift by 0 instead, so that exp(−∞ − 0) = 0
        // rather than the NaN of −∞ − (−∞).
        FloatVector z0 = n0.blend(0f, n0.eq(NEG_INF));
        FloatVector z1 = n1.blend(0f, n1.eq(NEG_INF));
        // α = exp(m − m'): rescales what was summed under the old maximum (0 when m was −∞).
        m0.sub(z0).intoArray(alpha, 0);
        m1.sub(z1).intoArray(alpha, L);
        expInPlace(alpha);
        FloatVector a0 = FloatVector.fromArray(S, alpha, 0);
        FloatVector a1 = FloatVector.fromArray(S, alpha, L);
        z0.intoArray(shift, 0);
        z1.intoArray(shift, L);
        expShifted(pt, kn, shift, blockSum);
        FloatVector.fromArray(S, sum, 0)
                .fma(a0, FloatVector.fromArray(S, blockSum, 0))
                .intoArray(sum, 0);
        FloatVector.fromArray(S, sum, L)
                .fma(a1, FloatVector.fromArray(S, blockSum, L))
                .intoArray(sum, L);

        // The maximum rarely moves once a few blocks are in: skip the rescale when α is all 1.
        boolean rescale = false;
        for (int i = 0; i < NR; i++) { // over the α array: a mask reduction here boxed a mask per panel
            rescale |= alpha[i] != 1f;
        }
        int vPanel = MR * job.nkPad;
        int vOff = kvOff + job.kFloats + k0 * MR;
        for (int dp = 0; dp < job.dPanels; dp++) {
            GemmKernel.kernel(job.kv, vOff + dp * vPanel, pt, 0, kn, tile, 0);
            int o = dp * MR * NR;
            for (int r = 0; r < MR; r++, o += NR) {
                FloatVector t0 = FloatVector.fromArray(S, tile, r * NR);
                FloatVector t1 = FloatVector.fromArray(S, tile, r * NR + L);
                FloatVector o0 = FloatVector.fromArray(S, ot, o);
                FloatVector o1 = FloatVector.fromArray(S, ot, o + L);
                if (rescale) {
                    o0.fma(a0, t0).intoArray(ot, o);
                    o1.fma(a1, t1).intoArray(ot, o + L);
                } else {
                    o0.add(t0).intoArray(ot, o);
                    o1.add(t1).intoArray(ot, o + L);
                }
            }
        }
    }

    /*
     * The exps live in two small methods that take and return arrays, not vectors: inlined into
     * softmaxAndAccumulate, the four exp expansions exhausted C2's inlining budget and every
     * vector was boxed (25 MB of garbage per DiT-sized call, at half the speed).
     */

    /** a[i] = e^(a[i]) for the NR lanes of a. */
    private static void expInPlace(float[] a) {
        VectorExp.expInPlace(a, NR);
    }

    /** pt[j][c] = e^(pt[j][c] − shift[c]) for kn rows of NR; rowSum[c] = Σ_j pt[j][c]. */
    private static void expShifted(float[] pt, int kn, float[] shift, float[] rowSum) {
        VectorExp.expShiftedColumns(pt, kn, NR, shift, rowSum);
    }

    /** out[b, h, q0 + i, c] = Oᵀ[c, i] / l[i], or 0 for a query that saw no key. */
    private void store(AttentionJob job, int b, int h, int q0, int qn) {
        for (int i = 0; i < NR; i += L) {
            FloatVector l = FloatVector.fromArray(S, sum, i);
            FloatVector.broadcast(S, 1f).div(l).blend(0f, l.eq(0f)).intoArray(sum, i);
        }
        long base = job.outOff + b * job.os[0] + h * job.os[1] + q0 * job.os[2];
        AttentionPack.forThisThread().storeTransposed(ot, sum, qn, job.d, job.outSeg, base, job.os[2]);
    }
}
