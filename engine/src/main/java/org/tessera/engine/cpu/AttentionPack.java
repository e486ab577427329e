package org.tessera.engine.cpu;

import static org.tessera.engine.cpu.GemmKernel.L;
import static org.tessera.engine.cpu.GemmKernel.MR;
import static org.tessera.engine.cpu.GemmKernel.NR;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorSpecies;

/**
 * The layout changes around the attention kernel, with the per-thread buffers they need.
 *
 * <p>Q and K are contracted over the head dimension, which is their contiguous one, so both
 * must be transposed into the kernel's panels (d-major); the output comes back transposed too.
 * At 4·N²·d flops per N·d elements moved, a transpose element by element straight from the
 * segment costs a quarter of the kernel time at N = 256, so rows with unit stride are first
 * copied into a heap buffer with vector moves and transposed from there: on AVX-512 with d ≥ 16
 * in 16×16 register blocks ({@link #transpose16}; for K's panels only with tiles of at least 8
 * rows, see {@link #packKeys}), otherwise element by element, where C2
 * unrolls the loop (the Vector API's indexed gathers are not intrinsified for this pattern and
 * their fallback allocates). Vᵀ needs no transpose (its panels hold MR consecutive head-dimension
 * values per key) and is copied with masked vector moves. Any other stride takes the scalar
 * loops.
 */
final class AttentionPack {
    private static final VectorSpecies<Float> S = GemmKernel.S;
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();
    private static final ThreadLocal<AttentionPack> LOCAL = ThreadLocal.withInitial(AttentionPack::new);

    /** Whether the 16×16 register transposes apply: AVX-512's 16 lanes (AVX2 takes the loops). */
    private static final boolean BLOCKS = L == 16;
    /**
     * Lane l of stage s's low and high outputs in {@link #transpose16}, as indexes into the
     * concatenation of two rows b = 8 >> s apart (0–15 the first, 16–31 the second): output block
     * q = l / b of b lanes comes from the first row when q is even and the second when odd, from
     * the row's block q rounded down to even (low output) or that plus one (high output).
     */
    private static final float[][] LOW = new float[4][16];

    private static final float[][] HIGH = new float[4][16];

    static {
        for (int s = 0, b = 8; s < 4; s++, b >>= 1) {
            for (int l = 0; l < 16; l++) {
                int q = l / b;
                int row = (q & 1) * 16;
                int block = q & ~1;
                LOW[s][l] = row + block * b + l % b;
                HIGH[s][l] = row + (block + 1) * b + l % b;
            }
        }
    }

    /** Rows copied out of a tensor: row r at r·d. */
    private float[] rows = new float[0];

    private AttentionPack() {}

    static AttentionPack forThisThread() {
        return LOCAL.get();
    }

    private void reserve(int floats) {
        // One vector of slack: copyRow's last vector may run past the rows it was asked for, and a
        // masked store that would cross the array's end leaves the intrinsic for a slow path.
        if (rows.length < floats + L) {
            rows = new float[floats + L];
        }
    }

    /**
     * dst[c·NR + i] = scale·X[i0 + i, c] for i &lt; NR, c &lt; d, with X[i, c] at
     * {@code base + i·rs + c·cs}: the transposed B panel of NR rows; rows past {@code n} repeat
     * the last row (their lanes are computed and dropped).
     */
    void packRowsTransposed(
            MemorySegment x, long base, long rs, long cs, int i0, int n, int d, float scale, float[] dst) {
        if (cs != 1) {
            GemmKernel.packB(x, base, cs, rs, 0, d, i0, n, dst, 0);
            for (int i = 0; i < d * NR; i += L) {
                FloatVector.fromArray(S, dst, i).mul(scale).intoArray(dst, i);
            }
            return;
        }
        if (BLOCKS && d >= 16) {
            // Rows past n repeat the last one; then 16×16 register transposes, the last block of
            // columns overlapping the one before it when d is not a multiple of 16.
            reserve(NR * d);
            for (int i = 0; i < n; i++) {
                copyRow(x, 4L * (base + (i0 + i) * rs), rows, i * d, d);
            }
            for (int i = n; i < NR; i++) {
                System.arraycopy(rows, (n - 1) * d, rows, i * d, d);
            }
            for (int ib = 0; ib < NR; ib += 16) {
                for (int c0 = 0; c0 < d; c0 = nextBlock(c0, d)) {
                    transpose16(rows, ib * d + c0, d, dst, c0 * NR + ib, NR, false);
                }
            }
            for (int i = 0; i < d * NR; i += L) {
                FloatVector.fromArray(S, dst, i).mul(scale).intoArray(dst, i);
            }
            return;
        }
        reserve(n * d);
        for (int i = 0; i < n; i++) {
            copyRow(x, 4L * (base + (i0 + i) * rs), rows, i * d, d);
        }
        // A plain scaled transpose (rows past n repeat the last row). The Vector API's indexed
        // gather from an array is not intrinsified here; its fallback allocated on every call.
        if (n == NR) {
            for (int c = 0, at = 0; c < d; c++, at += NR) {
                for (int i = 0, from = c; i < NR; i++, from += d) {
                    dst[at + i] = rows[from] * scale;
                }
            }
            return;
        }
        for (int c = 0, at = 0; c < d; c++, at += NR) {
            for (int i = 0; i < NR; i++) {
                dst[at + i] = rows[c + Math.min(i, n - 1) * d] * scale;
            }
        }
    }

    /**
     * K [Nk, d] as A micro-panels: keys k0.. of panel k0/MR at dst + k0·d, element (r, c) at
     * c·MR + r; rows past Nk repeat the last key (the kernel's rows for them are dropped).
     */
    void packKeys(MemorySegment k, long base, long rs, long cs, int nk, int d, float[] dst, int dstOff) {
        if (cs != 1) {
            for (int k0 = 0; k0 < nk; k0 += MR) {
                GemmKernel.packA(k, base, rs, cs, k0, Math.min(MR, nk - k0), 0, d, dst, dstOff + k0 * d);
            }
            return;
        }
        if (BLOCKS && MR >= 8 && d >= 16) {
            // 16×16 register transposes of the panel's MR rows and 16 − MR rows of whatever:
            // column c lands at c·MR with 16 lanes, the next columns overwriting the extra ones,
            // and the panel's last column stores MR lanes only (V's panels follow K's in the
            // buffer, possibly packed by another thread at the same time). With 16 ≤ 2·MR no
            // other column reaches past the panel; a 6-row tile (512-bit vectors get it only when
            // forced) takes the plain transpose below.
            reserve(16 * d);
            for (int k0 = 0; k0 < nk; k0 += MR) {
                int mr = Math.min(MR, nk - k0);
                for (int r = 0; r < mr; r++) {
                    copyRow(k, 4L * (base + (k0 + r) * rs), rows, r * d, d);
                }
                for (int r = mr; r < MR; r++) {
                    System.arraycopy(rows, (mr - 1) * d, rows, r * d, d);
                }
                int at = dstOff + k0 * d;
                for (int c0 = 0; c0 < d; c0 = nextBlock(c0, d)) {
                    transpose16(rows, c0, d, dst, at + c0 * MR, MR, c0 + 16 == d);
                }
            }
            return;
        }
        reserve(MR * d);
        for (int k0 = 0; k0 < nk; k0 += MR) {
            int mr = Math.min(MR, nk - k0);
            for (int r = 0; r < mr; r++) {
                copyRow(k, 4L * (base + (k0 + r) * rs), rows, r * d, d);
            }
            int at = dstOff + k0 * d;
            // A plain transpose: the Vector API's indexed gather from an array is not intrinsified
            // here and its fallback allocated three arrays per call (~240 KB per DiT-sized call).
            if (mr == MR) {
                for (int c = 0; c < d; c++, at += MR) {
                    for (int r = 0, from = c; r < MR; r++, from += d) {
                        dst[at + r] = rows[from];
                    }
                }
                continue;
            }
            for (int c = 0; c < d; c++, at += MR) {
                for (int r = 0; r < MR; r++) {
                    dst[at + r] = rows[c + Math.min(r, mr - 1) * d];
                }
            }
        }
    }

    /**
     * Vᵀ [d, Nk] as A micro-panels: head-dimension columns dp·MR.. at dst + dp·MR·nkPad, element
     * (c, j) at j·MR + c mod MR, zero past d. Walks V row by row.
     */
    void packValues(MemorySegment v, long base, long rs, long cs, int nk, int nkPad, int d, float[] dst, int dstOff) {
        int panel = MR * nkPad;
        int dPanels = (d + MR - 1) / MR;
        if (cs != 1) {
            for (int j = 0; j < nk; j++) {
                long row = base + j * rs;
                for (int dp = 0, c = 0; dp < dPanels; dp++) {
                    int at = dstOff + dp * panel + j * MR;
                    for (int r = 0; r < MR; r++, c++) {
                        dst[at + r] = c < d ? v.getAtIndex(F, row + c * cs) : 0f;
                    }
                }
            }
            return;
        }
        if (L < MR) {
            // Vectors narrower than a panel row (128-bit): copy each panel row through the heap.
            reserve(d);
            for (int j = 0; j < nk; j++) {
                copyRow(v, 4L * (base + j * rs), rows, 0, d);
                for (int dp = 0, c = 0; dp < dPanels; dp++) {
                    int at = dstOff + dp * panel + j * MR;
                    for (int r = 0; r < MR; r++, c++) {
                        dst[at + r] = c < d ? rows[c] : 0f;
                    }
                }
            }
            return;
        }
        // One masked move of MR lanes per panel row; the last panel loads zeros past d.
        VectorMask<Float> full = S.indexInRange(0, MR);
        VectorMask<Float> last = S.indexInRange(0, d - (dPanels - 1) * MR);
        long end = v.byteSize();
        for (int j = 0; j < nk; j++) {
            long row = 4L * (base + j * rs);
            int at = dstOff + j * MR;
            for (int dp = 0; dp < dPanels - 1; dp++, at += panel) {
                long from = row + 4L * dp * MR;
                FloatVector x = from + 4L * L <= end
                        ? FloatVector.fromMemorySegment(S, v, from, NATIVE)
                        : FloatVector.fromMemorySegment(S, v, from, NATIVE, full);
                x.intoArray(dst, at, full);
            }
            FloatVector.fromMemorySegment(S, v, row + 4L * (dPanels - 1) * MR, NATIVE, last)
                    .intoArray(dst, at, full);
        }
    }

    /**
     * out[i, c] = ot[c·NR + i]·inv[i] for i &lt; n, c &lt; d, with out[i, c] at
     * {@code base + i·rs + c} (rows contiguous): writes the transposed accumulator back.
     */
    void storeTransposed(float[] ot, float[] inv, int n, int d, MemorySegment out, long base, long rs) {
        if (BLOCKS && d >= 16) {
            // 16×16 register transposes into a row buffer, then each row scaled and copied out.
            reserve(NR * d);
            for (int ib = 0; ib < n; ib += 16) {
                for (int c0 = 0; c0 < d; c0 = nextBlock(c0, d)) {
                    transpose16(ot, c0 * NR + ib, NR, rows, ib * d + c0, d, false);
                }
            }
            for (int i = 0; i < n; i++) {
                FloatVector s = FloatVector.broadcast(S, inv[i]);
                int c = 0;
                for (; c + L <= d; c += L) {
                    FloatVector.fromArray(S, rows, i * d + c).mul(s).intoArray(rows, i * d + c);
                }
                for (; c < d; c++) {
                    rows[i * d + c] *= inv[i];
                }
                MemorySegment.copy(rows, i * d, out, F, 4L * (base + i * rs), d);
            }
            return;
        }
        // Transpose through a row buffer, then one contiguous store per output row (no indexed
        // gathers: their fallback allocated on every call).
        reserve(d);
        for (int i = 0; i < n; i++) {
            float s = inv[i];
            for (int c = 0; c < d; c++) {
                rows[c] = ot[c * NR + i] * s;
            }
            MemorySegment.copy(rows, 0, out, F, 4L * (base + i * rs), d);
        }
    }

    /**
     * The next 16-column block after the one at {@code c0}, for columns [0, d) with d ≥ 16: the
     * last block starts at d − 16, overlapping its predecessor (whose values it rewrites, equal).
     * Returns d when done.
     */
    private static int nextBlock(int c0, int d) {
        return c0 + 16 >= d ? d : Math.min(c0 + 16, d - 16);
    }

    /**
     * Transposes the 16×16 block whose row i is {@code src[so + i·ss ..]} into {@code dst}: column c
     * of the block becomes the 16 floats at {@code dOff + c·ds}, stored in increasing c, so with
     * {@code ds} &lt; 16 each store's last lanes are overwritten by the next one; the last store
     * writes only its first MR lanes when {@code lastMasked}. AVX-512 only (16 lanes).
     *
     * <p>Four butterfly stages over the 16 row vectors: stage s pairs rows b = 8, 4, 2, 1 apart and
     * interleaves their b-lane blocks with one two-source permute per output row ({@code
     * selectFrom}, one vpermt2ps), 64 permutes in all. Measured 0.15 ns per element in isolation
     * against about 1 ns for the element-by-element loops it replaced (those loops and the row
     * copies around them were 31% of attention's samples; the whole call gained ~5%, the copies
     * being bound by memory). Unrolled by hand into locals: vectors kept in an array are boxed.
     */
    private static void transpose16(float[] src, int so, int ss, float[] dst, int dOff, int ds, boolean lastMasked) {
        FloatVector r0 = FloatVector.fromArray(S, src, so + 0 * ss);
        FloatVector r1 = FloatVector.fromArray(S, src, so + 1 * ss);
        FloatVector r2 = FloatVector.fromArray(S, src, so + 2 * ss);
        FloatVector r3 = FloatVector.fromArray(S, src, so + 3 * ss);
        FloatVector r4 = FloatVector.fromArray(S, src, so + 4 * ss);
        FloatVector r5 = FloatVector.fromArray(S, src, so + 5 * ss);
        FloatVector r6 = FloatVector.fromArray(S, src, so + 6 * ss);
        FloatVector r7 = FloatVector.fromArray(S, src, so + 7 * ss);
        FloatVector r8 = FloatVector.fromArray(S, src, so + 8 * ss);
        FloatVector r9 = FloatVector.fromArray(S, src, so + 9 * ss);
        FloatVector r10 = FloatVector.fromArray(S, src, so + 10 * ss);
        FloatVector r11 = FloatVector.fromArray(S, src, so + 11 * ss);
        FloatVector r12 = FloatVector.fromArray(S, src, so + 12 * ss);
        FloatVector r13 = FloatVector.fromArray(S, src, so + 13 * ss);
        FloatVector r14 = FloatVector.fromArray(S, src, so + 14 * ss);
        FloatVector r15 = FloatVector.fromArray(S, src, so + 15 * ss);
        FloatVector lo = FloatVector.fromArray(S, LOW[0], 0);
        FloatVector hi = FloatVector.fromArray(S, HIGH[0], 0);
        FloatVector a0 = lo.selectFrom(r0, r8);
        FloatVector a8 = hi.selectFrom(r0, r8);
        FloatVector a1 = lo.selectFrom(r1, r9);
        FloatVector a9 = hi.selectFrom(r1, r9);
        FloatVector a2 = lo.selectFrom(r2, r10);
        FloatVector a10 = hi.selectFrom(r2, r10);
        FloatVector a3 = lo.selectFrom(r3, r11);
        FloatVector a11 = hi.selectFrom(r3, r11);
        FloatVector a4 = lo.selectFrom(r4, r12);
        FloatVector a12 = hi.selectFrom(r4, r12);
        FloatVector a5 = lo.selectFrom(r5, r13);
        FloatVector a13 = hi.selectFrom(r5, r13);
        FloatVector a6 = lo.selectFrom(r6, r14);
        FloatVector a14 = hi.selectFrom(r6, r14);
        FloatVector a7 = lo.selectFrom(r7, r15);
        FloatVector a15 = hi.selectFrom(r7, r15);
        lo = FloatVector.fromArray(S, LOW[1], 0);
        hi = FloatVector.fromArray(S, HIGH[1], 0);
        FloatVector b0 = lo.selectFrom(a0, a4);
        FloatVector b4 = hi.selectFrom(a0, a4);
        FloatVector b1 = lo.selectFrom(a1, a5);
        FloatVector b5 = hi.selectFrom(a1, a5);
        FloatVector b2 = lo.selectFrom(a2, a6);
        FloatVector b6 = hi.selectFrom(a2, a6);
        FloatVector b3 = lo.selectFrom(a3, a7);
        FloatVector b7 = hi.selectFrom(a3, a7);
        FloatVector b8 = lo.selectFrom(a8, a12);
        FloatVector b12 = hi.selectFrom(a8, a12);
        FloatVector b9 = lo.selectFrom(a9, a13);
        FloatVector b13 = hi.selectFrom(a9, a13);
        FloatVector b10 = lo.selectFrom(a10, a14);
        FloatVector b14 = hi.selectFrom(a10, a14);
        FloatVector b11 = lo.selectFrom(a11, a15);
        FloatVector b15 = hi.selectFrom(a11, a15);
        lo = FloatVector.fromArray(S, LOW[2], 0);
        hi = FloatVector.fromArray(S, HIGH[2], 0);
        FloatVector c0 = lo.selectFrom(b0, b2);
        FloatVector c2 = hi.selectFrom(b0, b2);
        FloatVector c1 = lo.selectFrom(b1, b3);
        FloatVector c3 = hi.selectFrom(b1, b3);
        FloatVector c4 = lo.selectFrom(b4, b6);
        FloatVector c6 = hi.selectFrom(b4, b6);
        FloatVector c5 = lo.selectFrom(b5, b7);
        FloatVector c7 = hi.selectFrom(b5, b7);
        FloatVector c8 = lo.selectFrom(b8, b10);
        FloatVector c10 = hi.selectFrom(b8, b10);
        FloatVector c9 = lo.selectFrom(b9, b11);
        FloatVector c11 = hi.selectFrom(b9, b11);
        FloatVector c12 = lo.selectFrom(b12, b14);
        FloatVector c14 = hi.selectFrom(b12, b14);
        FloatVector c13 = lo.selectFrom(b13, b15);
        FloatVector c15 = hi.selectFrom(b13, b15);
        lo = FloatVector.fromArray(S, LOW[3], 0);
        hi = FloatVector.fromArray(S, HIGH[3], 0);
        FloatVector d0 = lo.selectFrom(c0, c1);
        FloatVector d1 = hi.selectFrom(c0, c1);
        FloatVector d2 = lo.selectFrom(c2, c3);
        FloatVector d3 = hi.selectFrom(c2, c3);
        FloatVector d4 = lo.selectFrom(c4, c5);
        FloatVector d5 = hi.selectFrom(c4, c5);
        FloatVector d6 = lo.selectFrom(c6, c7);
        FloatVector d7 = hi.selectFrom(c6, c7);
        FloatVector d8 = lo.selectFrom(c8, c9);
        FloatVector d9 = hi.selectFrom(c8, c9);
        FloatVector d10 = lo.selectFrom(c10, c11);
        FloatVector d11 = hi.selectFrom(c10, c11);
        FloatVector d12 = lo.selectFrom(c12, c13);
        FloatVector d13 = hi.selectFrom(c12, c13);
        FloatVector d14 = lo.selectFrom(c14, c15);
        FloatVector d15 = hi.selectFrom(c14, c15);
        d0.intoArray(dst, dOff + 0 * ds);
        d1.intoArray(dst, dOff + 1 * ds);
        d2.intoArray(dst, dOff + 2 * ds);
        d3.intoArray(dst, dOff + 3 * ds);
        d4.intoArray(dst, dOff + 4 * ds);
        d5.intoArray(dst, dOff + 5 * ds);
        d6.intoArray(dst, dOff + 6 * ds);
        d7.intoArray(dst, dOff + 7 * ds);
        d8.intoArray(dst, dOff + 8 * ds);
        d9.intoArray(dst, dOff + 9 * ds);
        d10.intoArray(dst, dOff + 10 * ds);
        d11.intoArray(dst, dOff + 11 * ds);
        d12.intoArray(dst, dOff + 12 * ds);
        d13.intoArray(dst, dOff + 13 * ds);
        d14.intoArray(dst, dOff + 14 * ds);
        if (lastMasked) {
            d15.intoArray(dst, dOff + 15 * ds, S.indexInRange(0, MR));
        } else {
            d15.intoArray(dst, dOff + 15 * ds);
        }
    }

    /**
     * rows[at..at+n) = the n floats at byte {@code from} of {@code x}: vector moves, as a bulk
     * {@link MemorySegment#copy} costs more than the copy itself at a few hundred bytes.
     */
    private static void copyRow(MemorySegment x, long from, float[] rows, int at, int n) {
        int c = 0;
        for (; c + L <= n; c += L) {
            FloatVector.fromMemorySegment(S, x, from + 4L * c, NATIVE).intoArray(rows, at + c);
        }
        if (c < n && from + 4L * (c + L) <= x.byteSize()) {
            // A whole last vector: the lanes past n land in the next row's place (copied over
            // next) or in the buffer's slack; unmasked moves stay on the intrinsic path.
            FloatVector.fromMemorySegment(S, x, from + 4L * c, NATIVE).intoArray(rows, at + c);
        } else if (c < n) {
            VectorMask<Float> tail = S.indexInRange(c, n);
            FloatVector.fromMemorySegment(S, x, from + 4L * c, NATIVE, tail).intoArray(rows, at + c, tail);
        }
    }
}
