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
 * copied into a heap buffer with vector moves and transposed from there, where C2 unrolls the
 * loop (the Vector API's indexed gathers are not intrinsified for this pattern and their
 * fallback allocates). Vᵀ needs no transpose (its panels hold MR consecutive head-dimension
 * values per key) and is copied with masked vector moves. Any other stride takes the scalar
 * loops.
 */
final class AttentionPack {
    private static final VectorSpecies<Float> S = GemmKernel.S;
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();
    private static final ThreadLocal<AttentionPack> LOCAL = ThreadLocal.withInitial(AttentionPack::new);

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
    void packRowsTransposed(MemorySegment x, long base, long rs, long cs, int i0, int n, int d, float scale,
                            float[] dst) {
        if (cs != 1) {
            GemmKernel.packB(x, base, cs, rs, 0, d, i0, n, dst, 0);
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
            // Narrow vectors (AVX2): copy each panel row through the heap.
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
            FloatVector.fromMemorySegment(S, v, row + 4L * (dPanels - 1) * MR, NATIVE, last).intoArray(dst, at, full);
        }
    }

    /**
     * out[i, c] = ot[c·NR + i]·inv[i] for i &lt; n, c &lt; d, with out[i, c] at
     * {@code base + i·rs + c} (rows contiguous): writes the transposed accumulator back.
     */
    void storeTransposed(float[] ot, float[] inv, int n, int d, MemorySegment out, long base, long rs) {
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
