package org.tessera.engine.cpu;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorSpecies;

/**
 * The GEMM register kernel and the packing routines that feed it.
 *
 * <p>The kernel computes one MR×NR tile of C = A·B from an A micro-panel (MR rows, k-major:
 * {@code a[k·MR + r]}) and a B micro-panel (NR columns, k-major: {@code b[k·NR + j]}). Per k it
 * loads two vectors of B, broadcasts each of the MR values of A and issues 2·MR fused
 * multiply-adds into 2·MR accumulators that never leave registers.
 *
 * <p>The tile follows the machine ({@link GemmTile}). NR is two vectors, whatever their width;
 * MR is 12 where the JIT has 32 vector registers (AVX-512, ARM's NEON), 4 on AVX2's 16 and 6 for
 * x86 held to 128-bit vectors: 16 registers cannot hold 24 accumulators beside the B vectors
 * (BLIS's rule), and on AVX2 the 6-row tile does not fit either, once C2 has scheduled a step's
 * broadcasts (see {@link #kernelRows4}).
 *
 * <p>The 12- and 4-row kernels read A from the heap array; the 6-row ones through the
 * memory-segment view of its panels ({@link APanels}), whose bounds checks keep C2 from hoisting
 * the six broadcasts of a step into six live registers. Measured, the kernel alone on one thread
 * (bench/kernel-broadcast.sh, AMD EPYC, 2026-12-07): under AVX2 4×16 from the array 102–104
 * GF/s, 6×16 through the segment 80–91, 6×16 from the array 42–50 (an accumulator spilled,
 * seen in the emitted code); with 128-bit vectors 6×8 through the segment 46–54 against 27 from
 * the array; with AVX-512 the array 205, the segment 149. ({@link #kernel4}, for a short last
 * panel, reads the view at either tile.)
 *
 * <p>Everything else — packing, blocking,
 * attention and convolution panels — reads MR and NR, so one code path serves every tile; only
 * the unrolled loop body exists once per row count, as it must for C2 to keep its
 * accumulators in registers.
 */
final class GemmKernel {
    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    static final int L = S.length();
    /** The vector registers the JIT allocates: 32 with AVX-512 and on ARM, 16 on AVX2 and SSE. */
    static final int REGISTERS = GemmTile.vectorRegisters(System.getProperty("os.arch", ""), S.vectorBitSize());
    /**
     * Rows of a register tile ({@link GemmTile#rows(int)}; {@code -Dtessera.gemm.rows=4|6|12} forces
     * one, for measuring). 12×2 vectors measured fastest on AVX-512 (24 accumulators + 2 B
     * vectors + 1 broadcast = 27 of 32 registers): ~97% of the FMA peak in isolation, against
     * ~58% for 6×2, whose 12 accumulator chains cannot hide the FMA latency there, and ~80% for
     * 6×4. On 16 registers: 4×2 with AVX2, 6×2 with 128-bit vectors ({@link GemmTile}).
     */
    static final int MR = GemmTile.rows(S.vectorBitSize());
    /**
     * A panel of at most this many rows (the padded last one) runs {@link #kernel4} once per four
     * rows instead of the full kernel: 8 of 12, 4 of 6; none of 4.
     */
    static final int SHORT_ROWS = 4 * ((MR - 1) / 4);
    /** Columns of a register tile: two vectors. */
    static final int NR = 2 * L;

    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;
    /** Per-thread staging for one column of a transposed B (packing only, not the hot loop). */
    private static final ThreadLocal<float[]> COLUMN = ThreadLocal.withInitial(() -> new float[0]);

    private GemmKernel() {}

    /** Floats in a 64-byte cache line. */
    static final int LINE_FLOATS = 16;
    /** The 12-row kernels read one line of the next B panel every eight steps of k (see {@link #kernel}). */
    private static final int TOUCH_MASK = 7;

    /**
     * Cache lines of the next B panel that one 12-row kernel call of depth {@code kc} reads: the region
     * from {@code nextOff} must hold {@code touchFloats(kc)} floats.
     */
    static int touchFloats(int kc) {
        return (kc >> 3) * LINE_FLOATS;
    }

    /**
     * tile[tileOff + r·NR + j] = Σ_k A-panel[k·MR + r] · B-panel[k·NR + j] for the full MR×NR tile.
     *
     * <p>With MR = 12, every eighth step it also reads one float of {@code next}, from {@code nextOff} on, one
     * cache line apart, and returns their sum (for the caller to keep, so that the reads stay).
     * That is a prefetch for the B panel the caller uses after this one: Java has no prefetch
     * instruction, and a pre-packed B panel otherwise first arrives from memory inside the one
     * kernel call that reads it at full speed, which waits for it (measured: 13–17% of the time
     * of a product whose B comes from memory, against B in L2). These sparse reads walk the next
     * panel a line at a time, slowly enough for the L2 streamer to run ahead of them; spread
     * over the calls of one panel, they bring the next one in before it is needed. Measured
     * interleaved in one JVM with B pre-packed: +8–10% on one thread, +3–9% on two (AVX-512). The
     * 6-row kernel measured slower with them: it ignores {@code next} and returns 0 (see
     * {@link #kernel6}).
     *
     * <p>The result goes to a small heap array rather than straight into C: C2 keeps this
     * method's 24 accumulators in registers only while the method stays small and free of
     * calls; stores into a native segment with β/α handling here measured 4–90 GF/s against
     * ~150 for this form. {@link #mergeTile} then applies β and the edges.
     */
    static float kernel(
            APanels panels,
            int aOff,
            float[] b,
            int bOff,
            int kc,
            float[] tile,
            int tileOff,
            float[] next,
            int nextOff) {
        if (MR == 12) {
            return kernel12(panels.floats(), aOff, b, bOff, kc, tile, tileOff, next, nextOff);
        }
        if (MR == 4) {
            kernelRows4(panels.floats(), aOff, b, bOff, kc, tile, tileOff, false);
            return 0f;
        }
        kernel6(panels.view(), 4L * aOff, b, bOff, kc, tile, tileOff);
        return 0f;
    }

    /** {@link #kernel} for MR = 12: 24 accumulators. */
    private static float kernel12(
            float[] a, int aOff, float[] b, int bOff, int kc, float[] tile, int tileOff, float[] next, int nextOff) {
        float touched = 0f;
        FloatVector c0a = FloatVector.zero(S), c0b = FloatVector.zero(S);
        FloatVector c1a = FloatVector.zero(S), c1b = FloatVector.zero(S);
        FloatVector c2a = FloatVector.zero(S), c2b = FloatVector.zero(S);
        FloatVector c3a = FloatVector.zero(S), c3b = FloatVector.zero(S);
        FloatVector c4a = FloatVector.zero(S), c4b = FloatVector.zero(S);
        FloatVector c5a = FloatVector.zero(S), c5b = FloatVector.zero(S);
        FloatVector c6a = FloatVector.zero(S), c6b = FloatVector.zero(S);
        FloatVector c7a = FloatVector.zero(S), c7b = FloatVector.zero(S);
        FloatVector c8a = FloatVector.zero(S), c8b = FloatVector.zero(S);
        FloatVector c9a = FloatVector.zero(S), c9b = FloatVector.zero(S);
        FloatVector c10a = FloatVector.zero(S), c10b = FloatVector.zero(S);
        FloatVector c11a = FloatVector.zero(S), c11b = FloatVector.zero(S);
        for (int k = 0; k < kc; k++) {
            FloatVector b0 = FloatVector.fromArray(S, b, bOff);
            FloatVector b1 = FloatVector.fromArray(S, b, bOff + L);
            FloatVector av = FloatVector.broadcast(S, a[aOff]);
            c0a = av.fma(b0, c0a);
            c0b = av.fma(b1, c0b);
            av = FloatVector.broadcast(S, a[aOff + 1]);
            c1a = av.fma(b0, c1a);
            c1b = av.fma(b1, c1b);
            av = FloatVector.broadcast(S, a[aOff + 2]);
            c2a = av.fma(b0, c2a);
            c2b = av.fma(b1, c2b);
            av = FloatVector.broadcast(S, a[aOff + 3]);
            c3a = av.fma(b0, c3a);
            c3b = av.fma(b1, c3b);
            av = FloatVector.broadcast(S, a[aOff + 4]);
            c4a = av.fma(b0, c4a);
            c4b = av.fma(b1, c4b);
            av = FloatVector.broadcast(S, a[aOff + 5]);
            c5a = av.fma(b0, c5a);
            c5b = av.fma(b1, c5b);
            av = FloatVector.broadcast(S, a[aOff + 6]);
            c6a = av.fma(b0, c6a);
            c6b = av.fma(b1, c6b);
            av = FloatVector.broadcast(S, a[aOff + 7]);
            c7a = av.fma(b0, c7a);
            c7b = av.fma(b1, c7b);
            av = FloatVector.broadcast(S, a[aOff + 8]);
            c8a = av.fma(b0, c8a);
            c8b = av.fma(b1, c8b);
            av = FloatVector.broadcast(S, a[aOff + 9]);
            c9a = av.fma(b0, c9a);
            c9b = av.fma(b1, c9b);
            av = FloatVector.broadcast(S, a[aOff + 10]);
            c10a = av.fma(b0, c10a);
            c10b = av.fma(b1, c10b);
            av = FloatVector.broadcast(S, a[aOff + 11]);
            c11a = av.fma(b0, c11a);
            c11b = av.fma(b1, c11b);
            aOff += MR;
            bOff += NR;
            if ((k & TOUCH_MASK) == TOUCH_MASK) {
                touched += next[nextOff];
                nextOff += LINE_FLOATS;
            }
        }
        c0a.intoArray(tile, tileOff + 0 * NR);
        c0b.intoArray(tile, tileOff + 0 * NR + L);
        c1a.intoArray(tile, tileOff + 1 * NR);
        c1b.intoArray(tile, tileOff + 1 * NR + L);
        c2a.intoArray(tile, tileOff + 2 * NR);
        c2b.intoArray(tile, tileOff + 2 * NR + L);
        c3a.intoArray(tile, tileOff + 3 * NR);
        c3b.intoArray(tile, tileOff + 3 * NR + L);
        c4a.intoArray(tile, tileOff + 4 * NR);
        c4b.intoArray(tile, tileOff + 4 * NR + L);
        c5a.intoArray(tile, tileOff + 5 * NR);
        c5b.intoArray(tile, tileOff + 5 * NR + L);
        c6a.intoArray(tile, tileOff + 6 * NR);
        c6b.intoArray(tile, tileOff + 6 * NR + L);
        c7a.intoArray(tile, tileOff + 7 * NR);
        c7b.intoArray(tile, tileOff + 7 * NR + L);
        c8a.intoArray(tile, tileOff + 8 * NR);
        c8b.intoArray(tile, tileOff + 8 * NR + L);
        c9a.intoArray(tile, tileOff + 9 * NR);
        c9b.intoArray(tile, tileOff + 9 * NR + L);
        c10a.intoArray(tile, tileOff + 10 * NR);
        c10b.intoArray(tile, tileOff + 10 * NR + L);
        c11a.intoArray(tile, tileOff + 11 * NR);
        c11b.intoArray(tile, tileOff + 11 * NR + L);
        return touched;
    }

    /**
     * {@link #kernel(APanels, int, float[], int, int, float[], int, float[], int)} into the tile at
     * {@code tileOff}, touching nothing but its own B panel.
     */
    static void kernel(APanels panels, int aOff, float[] b, int bOff, int kc, float[] tile, int tileOff) {
        kernel(panels, aOff, b, bOff, kc, tile, tileOff, b, bOff);
    }

    /**
     * acc[accOff + r·NR + j] += Σ_k A-panel[k·MR + r] · B-panel[k·NR + j]: {@link #kernel} for a
     * tile carried across K blocks in a packed buffer rather than merged into C after each one.
     * The same loop; only the stores at the end differ. Two loop bodies, because a kernel that
     * chose between storing and adding at its end measured 3–6% slower in isolation, and one
     * that started its accumulators from the buffer instead of zero ~25% slower.
     */
    static float kernelAdd(
            APanels panels, int aOff, float[] b, int bOff, int kc, float[] acc, int accOff, float[] next, int nextOff) {
        if (MR == 12) {
            return kernelAdd12(panels.floats(), aOff, b, bOff, kc, acc, accOff, next, nextOff);
        }
        if (MR == 4) {
            kernelRows4(panels.floats(), aOff, b, bOff, kc, acc, accOff, true);
            return 0f;
        }
        kernelAdd6(panels.view(), 4L * aOff, b, bOff, kc, acc, accOff);
        return 0f;
    }

    /** {@link #kernelAdd} for MR = 12. */
    private static float kernelAdd12(
            float[] a, int aOff, float[] b, int bOff, int kc, float[] acc, int accOff, float[] next, int nextOff) {
        float touched = 0f;
        FloatVector c0a = FloatVector.zero(S), c0b = FloatVector.zero(S);
        FloatVector c1a = FloatVector.zero(S), c1b = FloatVector.zero(S);
        FloatVector c2a = FloatVector.zero(S), c2b = FloatVector.zero(S);
        FloatVector c3a = FloatVector.zero(S), c3b = FloatVector.zero(S);
        FloatVector c4a = FloatVector.zero(S), c4b = FloatVector.zero(S);
        FloatVector c5a = FloatVector.zero(S), c5b = FloatVector.zero(S);
        FloatVector c6a = FloatVector.zero(S), c6b = FloatVector.zero(S);
        FloatVector c7a = FloatVector.zero(S), c7b = FloatVector.zero(S);
        FloatVector c8a = FloatVector.zero(S), c8b = FloatVector.zero(S);
        FloatVector c9a = FloatVector.zero(S), c9b = FloatVector.zero(S);
        FloatVector c10a = FloatVector.zero(S), c10b = FloatVector.zero(S);
        FloatVector c11a = FloatVector.zero(S), c11b = FloatVector.zero(S);
        for (int k = 0; k < kc; k++) {
            FloatVector b0 = FloatVector.fromArray(S, b, bOff);
            FloatVector b1 = FloatVector.fromArray(S, b, bOff + L);
            FloatVector av = FloatVector.broadcast(S, a[aOff]);
            c0a = av.fma(b0, c0a);
            c0b = av.fma(b1, c0b);
            av = FloatVector.broadcast(S, a[aOff + 1]);
            c1a = av.fma(b0, c1a);
            c1b = av.fma(b1, c1b);
            av = FloatVector.broadcast(S, a[aOff + 2]);
            c2a = av.fma(b0, c2a);
            c2b = av.fma(b1, c2b);
            av = FloatVector.broadcast(S, a[aOff + 3]);
            c3a = av.fma(b0, c3a);
            c3b = av.fma(b1, c3b);
            av = FloatVector.broadcast(S, a[aOff + 4]);
            c4a = av.fma(b0, c4a);
            c4b = av.fma(b1, c4b);
            av = FloatVector.broadcast(S, a[aOff + 5]);
            c5a = av.fma(b0, c5a);
            c5b = av.fma(b1, c5b);
            av = FloatVector.broadcast(S, a[aOff + 6]);
            c6a = av.fma(b0, c6a);
            c6b = av.fma(b1, c6b);
            av = FloatVector.broadcast(S, a[aOff + 7]);
            c7a = av.fma(b0, c7a);
            c7b = av.fma(b1, c7b);
            av = FloatVector.broadcast(S, a[aOff + 8]);
            c8a = av.fma(b0, c8a);
            c8b = av.fma(b1, c8b);
            av = FloatVector.broadcast(S, a[aOff + 9]);
            c9a = av.fma(b0, c9a);
            c9b = av.fma(b1, c9b);
            av = FloatVector.broadcast(S, a[aOff + 10]);
            c10a = av.fma(b0, c10a);
            c10b = av.fma(b1, c10b);
            av = FloatVector.broadcast(S, a[aOff + 11]);
            c11a = av.fma(b0, c11a);
            c11b = av.fma(b1, c11b);
            aOff += MR;
            bOff += NR;
            if ((k & TOUCH_MASK) == TOUCH_MASK) {
                touched += next[nextOff];
                nextOff += LINE_FLOATS;
            }
        }
        c0a.add(FloatVector.fromArray(S, acc, accOff + 0 * NR)).intoArray(acc, accOff + 0 * NR);
        c0b.add(FloatVector.fromArray(S, acc, accOff + 0 * NR + L)).intoArray(acc, accOff + 0 * NR + L);
        c1a.add(FloatVector.fromArray(S, acc, accOff + 1 * NR)).intoArray(acc, accOff + 1 * NR);
        c1b.add(FloatVector.fromArray(S, acc, accOff + 1 * NR + L)).intoArray(acc, accOff + 1 * NR + L);
        c2a.add(FloatVector.fromArray(S, acc, accOff + 2 * NR)).intoArray(acc, accOff + 2 * NR);
        c2b.add(FloatVector.fromArray(S, acc, accOff + 2 * NR + L)).intoArray(acc, accOff + 2 * NR + L);
        c3a.add(FloatVector.fromArray(S, acc, accOff + 3 * NR)).intoArray(acc, accOff + 3 * NR);
        c3b.add(FloatVector.fromArray(S, acc, accOff + 3 * NR + L)).intoArray(acc, accOff + 3 * NR + L);
        c4a.add(FloatVector.fromArray(S, acc, accOff + 4 * NR)).intoArray(acc, accOff + 4 * NR);
        c4b.add(FloatVector.fromArray(S, acc, accOff + 4 * NR + L)).intoArray(acc, accOff + 4 * NR + L);
        c5a.add(FloatVector.fromArray(S, acc, accOff + 5 * NR)).intoArray(acc, accOff + 5 * NR);
        c5b.add(FloatVector.fromArray(S, acc, accOff + 5 * NR + L)).intoArray(acc, accOff + 5 * NR + L);
        c6a.add(FloatVector.fromArray(S, acc, accOff + 6 * NR)).intoArray(acc, accOff + 6 * NR);
        c6b.add(FloatVector.fromArray(S, acc, accOff + 6 * NR + L)).intoArray(acc, accOff + 6 * NR + L);
        c7a.add(FloatVector.fromArray(S, acc, accOff + 7 * NR)).intoArray(acc, accOff + 7 * NR);
        c7b.add(FloatVector.fromArray(S, acc, accOff + 7 * NR + L)).intoArray(acc, accOff + 7 * NR + L);
        c8a.add(FloatVector.fromArray(S, acc, accOff + 8 * NR)).intoArray(acc, accOff + 8 * NR);
        c8b.add(FloatVector.fromArray(S, acc, accOff + 8 * NR + L)).intoArray(acc, accOff + 8 * NR + L);
        c9a.add(FloatVector.fromArray(S, acc, accOff + 9 * NR)).intoArray(acc, accOff + 9 * NR);
        c9b.add(FloatVector.fromArray(S, acc, accOff + 9 * NR + L)).intoArray(acc, accOff + 9 * NR + L);
        c10a.add(FloatVector.fromArray(S, acc, accOff + 10 * NR)).intoArray(acc, accOff + 10 * NR);
        c10b.add(FloatVector.fromArray(S, acc, accOff + 10 * NR + L)).intoArray(acc, accOff + 10 * NR + L);
        c11a.add(FloatVector.fromArray(S, acc, accOff + 11 * NR)).intoArray(acc, accOff + 11 * NR);
        c11b.add(FloatVector.fromArray(S, acc, accOff + 11 * NR + L)).intoArray(acc, accOff + 11 * NR + L);
        return touched;
    }

    /**
     * {@link #kernel} for MR = 6, the tile of 16 registers with 128-bit vectors: 12 accumulators, 2
     * B vectors and the broadcast, 15 registers (BLIS's 6×16 for AVX2; AVX2 here takes 4 rows,
     * {@link #kernelRows4}). A comes through the segment view, byte
     * offset {@code aByte} (see the class comment for why).
     *
     * <p>It does not read ahead in the next B panel: under AVX2 the reads cost the kernel alone
     * 10% (98 GF/s with them, 109 without), and in back-to-back runs of
     * bench/gemm-vs-openblas.sh the GEMM ran at 0.56–0.86 of OpenBLAS's Haswell kernels with them
     * against 0.87–0.97 without. Its loop is not unrolled by hand either: two steps per iteration
     * ran at 42 GF/s, against 109 for one.
     */
    private static void kernel6(MemorySegment a, long aByte, float[] b, int bOff, int kc, float[] tile, int tileOff) {
        FloatVector c0a = FloatVector.zero(S), c0b = FloatVector.zero(S);
        FloatVector c1a = FloatVector.zero(S), c1b = FloatVector.zero(S);
        FloatVector c2a = FloatVector.zero(S), c2b = FloatVector.zero(S);
        FloatVector c3a = FloatVector.zero(S), c3b = FloatVector.zero(S);
        FloatVector c4a = FloatVector.zero(S), c4b = FloatVector.zero(S);
        FloatVector c5a = FloatVector.zero(S), c5b = FloatVector.zero(S);
        for (int k = 0; k < kc; k++) {
            FloatVector b0 = FloatVector.fromArray(S, b, bOff);
            FloatVector b1 = FloatVector.fromArray(S, b, bOff + L);
            FloatVector av = FloatVector.broadcast(S, a.get(F, aByte));
            c0a = av.fma(b0, c0a);
            c0b = av.fma(b1, c0b);
            av = FloatVector.broadcast(S, a.get(F, aByte + 4));
            c1a = av.fma(b0, c1a);
            c1b = av.fma(b1, c1b);
            av = FloatVector.broadcast(S, a.get(F, aByte + 8));
            c2a = av.fma(b0, c2a);
            c2b = av.fma(b1, c2b);
            av = FloatVector.broadcast(S, a.get(F, aByte + 12));
            c3a = av.fma(b0, c3a);
            c3b = av.fma(b1, c3b);
            av = FloatVector.broadcast(S, a.get(F, aByte + 16));
            c4a = av.fma(b0, c4a);
            c4b = av.fma(b1, c4b);
            av = FloatVector.broadcast(S, a.get(F, aByte + 20));
            c5a = av.fma(b0, c5a);
            c5b = av.fma(b1, c5b);
            aByte += 4 * 6;
            bOff += NR;
        }
        c0a.intoArray(tile, tileOff);
        c0b.intoArray(tile, tileOff + L);
        c1a.intoArray(tile, tileOff + NR);
        c1b.intoArray(tile, tileOff + NR + L);
        c2a.intoArray(tile, tileOff + 2 * NR);
        c2b.intoArray(tile, tileOff + 2 * NR + L);
        c3a.intoArray(tile, tileOff + 3 * NR);
        c3b.intoArray(tile, tileOff + 3 * NR + L);
        c4a.intoArray(tile, tileOff + 4 * NR);
        c4b.intoArray(tile, tileOff + 4 * NR + L);
        c5a.intoArray(tile, tileOff + 5 * NR);
        c5b.intoArray(tile, tileOff + 5 * NR + L);
    }

    /** {@link #kernelAdd} for MR = 6. */
    private static void kernelAdd6(MemorySegment a, long aByte, float[] b, int bOff, int kc, float[] acc, int accOff) {
        FloatVector c0a = FloatVector.zero(S), c0b = FloatVector.zero(S);
        FloatVector c1a = FloatVector.zero(S), c1b = FloatVector.zero(S);
        FloatVector c2a = FloatVector.zero(S), c2b = FloatVector.zero(S);
        FloatVector c3a = FloatVector.zero(S), c3b = FloatVector.zero(S);
        FloatVector c4a = FloatVector.zero(S), c4b = FloatVector.zero(S);
        FloatVector c5a = FloatVector.zero(S), c5b = FloatVector.zero(S);
        for (int k = 0; k < kc; k++) {
            FloatVector b0 = FloatVector.fromArray(S, b, bOff);
            FloatVector b1 = FloatVector.fromArray(S, b, bOff + L);
            FloatVector av = FloatVector.broadcast(S, a.get(F, aByte));
            c0a = av.fma(b0, c0a);
            c0b = av.fma(b1, c0b);
            av = FloatVector.broadcast(S, a.get(F, aByte + 4));
            c1a = av.fma(b0, c1a);
            c1b = av.fma(b1, c1b);
            av = FloatVector.broadcast(S, a.get(F, aByte + 8));
            c2a = av.fma(b0, c2a);
            c2b = av.fma(b1, c2b);
            av = FloatVector.broadcast(S, a.get(F, aByte + 12));
            c3a = av.fma(b0, c3a);
            c3b = av.fma(b1, c3b);
            av = FloatVector.broadcast(S, a.get(F, aByte + 16));
            c4a = av.fma(b0, c4a);
            c4b = av.fma(b1, c4b);
            av = FloatVector.broadcast(S, a.get(F, aByte + 20));
            c5a = av.fma(b0, c5a);
            c5b = av.fma(b1, c5b);
            aByte += 4 * 6;
            bOff += NR;
        }
        c0a.add(FloatVector.fromArray(S, acc, accOff)).intoArray(acc, accOff);
        c0b.add(FloatVector.fromArray(S, acc, accOff + L)).intoArray(acc, accOff + L);
        c1a.add(FloatVector.fromArray(S, acc, accOff + NR)).intoArray(acc, accOff + NR);
        c1b.add(FloatVector.fromArray(S, acc, accOff + NR + L)).intoArray(acc, accOff + NR + L);
        c2a.add(FloatVector.fromArray(S, acc, accOff + 2 * NR)).intoArray(acc, accOff + 2 * NR);
        c2b.add(FloatVector.fromArray(S, acc, accOff + 2 * NR + L)).intoArray(acc, accOff + 2 * NR + L);
        c3a.add(FloatVector.fromArray(S, acc, accOff + 3 * NR)).intoArray(acc, accOff + 3 * NR);
        c3b.add(FloatVector.fromArray(S, acc, accOff + 3 * NR + L)).intoArray(acc, accOff + 3 * NR + L);
        c4a.add(FloatVector.fromArray(S, acc, accOff + 4 * NR)).intoArray(acc, accOff + 4 * NR);
        c4b.add(FloatVector.fromArray(S, acc, accOff + 4 * NR + L)).intoArray(acc, accOff + 4 * NR + L);
        c5a.add(FloatVector.fromArray(S, acc, accOff + 5 * NR)).intoArray(acc, accOff + 5 * NR);
        c5b.add(FloatVector.fromArray(S, acc, accOff + 5 * NR + L)).intoArray(acc, accOff + 5 * NR + L);
    }

    /**
     * {@link #kernel} (or, with {@code add}, {@link #kernelAdd}) for MR = 4, AVX2's tile: 8
     * accumulators, 2 B vectors and the 4 broadcasts, 14 of 16 registers, with A read from the
     * heap array.
     *
     * <p>Why 4 rows and the array, where BLIS takes 6×16: C2 schedules every broadcast of a step at
     * its top, ahead of the multiply-adds (they are loads, and loads go first). At 6 rows that is
     * 12 accumulators + 2 + 6 = 20 registers, so it spills an accumulator to the stack and runs its
     * chain through a store and a reload every step (bench/emitted-code.sh shows it): 42–50 GF/s
     * in bench/kernel-broadcast.sh; at 5 rows the same, 42. The 6-row kernel through a segment view
     * ({@link #kernel6}) keeps the order, because each access's bounds check pins its broadcast
     * behind the one before, but pays for five checks and the index arithmetic a step: 49
     * instructions for 12 multiply-adds, 80–91 GF/s. At 4 rows nothing spills and the step is
     * 22 instructions for 8 multiply-adds: 102–103 GF/s. Eight chains of multiply-adds are just
     * enough for two ports of four cycles' latency.
     *
     * <p>One method for both stores: the choice is made once, after the loop.
     */
    private static void kernelRows4(
            float[] a, int aOff, float[] b, int bOff, int kc, float[] tile, int tileOff, boolean add) {
        FloatVector c0a = FloatVector.zero(S), c0b = FloatVector.zero(S);
        FloatVector c1a = FloatVector.zero(S), c1b = FloatVector.zero(S);
        FloatVector c2a = FloatVector.zero(S), c2b = FloatVector.zero(S);
        FloatVector c3a = FloatVector.zero(S), c3b = FloatVector.zero(S);
        for (int k = 0; k < kc; k++) {
            FloatVector b0 = FloatVector.fromArray(S, b, bOff);
            FloatVector b1 = FloatVector.fromArray(S, b, bOff + L);
            FloatVector av = FloatVector.broadcast(S, a[aOff]);
            c0a = av.fma(b0, c0a);
            c0b = av.fma(b1, c0b);
            av = FloatVector.broadcast(S, a[aOff + 1]);
            c1a = av.fma(b0, c1a);
            c1b = av.fma(b1, c1b);
            av = FloatVector.broadcast(S, a[aOff + 2]);
            c2a = av.fma(b0, c2a);
            c2b = av.fma(b1, c2b);
            av = FloatVector.broadcast(S, a[aOff + 3]);
            c3a = av.fma(b0, c3a);
            c3b = av.fma(b1, c3b);
            aOff += 4;
            bOff += NR;
        }
        if (add) {
            c0a = c0a.add(FloatVector.fromArray(S, tile, tileOff));
            c0b = c0b.add(FloatVector.fromArray(S, tile, tileOff + L));
            c1a = c1a.add(FloatVector.fromArray(S, tile, tileOff + NR));
            c1b = c1b.add(FloatVector.fromArray(S, tile, tileOff + NR + L));
            c2a = c2a.add(FloatVector.fromArray(S, tile, tileOff + 2 * NR));
            c2b = c2b.add(FloatVector.fromArray(S, tile, tileOff + 2 * NR + L));
            c3a = c3a.add(FloatVector.fromArray(S, tile, tileOff + 3 * NR));
            c3b = c3b.add(FloatVector.fromArray(S, tile, tileOff + 3 * NR + L));
        }
        c0a.intoArray(tile, tileOff);
        c0b.intoArray(tile, tileOff + L);
        c1a.intoArray(tile, tileOff + NR);
        c1b.intoArray(tile, tileOff + NR + L);
        c2a.intoArray(tile, tileOff + 2 * NR);
        c2b.intoArray(tile, tileOff + 2 * NR + L);
        c3a.intoArray(tile, tileOff + 3 * NR);
        c3b.intoArray(tile, tileOff + 3 * NR + L);
    }

    /**
     * Rows [0, 4) of {@link #kernel} for a panel whose last rows are padding: tile rows
     * [tileRow, tileRow + 4) = Σ_k A-panel[k·MR + r] · B-panel[k·NR + j], r in [0, 4).
     *
     * <p>M = 256 (one DiT image) is 21 panels of 12 rows and one of 4 (or 42 of 6 and one of 4);
     * the full kernel would spend two thirds (a third) of that last panel's FMAs on zeros. Eight accumulator chains
     * are just enough to cover the FMA latency on two ports (4 cycles × 2).
     */
    static void kernel4(APanels panels, int aOff, float[] b, int bOff, int kc, float[] tile, int tileRow) {
        // Through the view whatever the tile: these panels are a small share of the work.
        MemorySegment a = panels.view();
        long aByte = 4L * aOff;
        FloatVector c0a = FloatVector.zero(S), c0b = FloatVector.zero(S);
        FloatVector c1a = FloatVector.zero(S), c1b = FloatVector.zero(S);
        FloatVector c2a = FloatVector.zero(S), c2b = FloatVector.zero(S);
        FloatVector c3a = FloatVector.zero(S), c3b = FloatVector.zero(S);
        for (int k = 0; k < kc; k++) {
            FloatVector b0 = FloatVector.fromArray(S, b, bOff);
            FloatVector b1 = FloatVector.fromArray(S, b, bOff + L);
            FloatVector av = FloatVector.broadcast(S, a.get(F, aByte));
            c0a = av.fma(b0, c0a);
            c0b = av.fma(b1, c0b);
            av = FloatVector.broadcast(S, a.get(F, aByte + 4));
            c1a = av.fma(b0, c1a);
            c1b = av.fma(b1, c1b);
            av = FloatVector.broadcast(S, a.get(F, aByte + 8));
            c2a = av.fma(b0, c2a);
            c2b = av.fma(b1, c2b);
            av = FloatVector.broadcast(S, a.get(F, aByte + 12));
            c3a = av.fma(b0, c3a);
            c3b = av.fma(b1, c3b);
            aByte += 4 * MR;
            bOff += NR;
        }
        int t = tileRow * NR;
        c0a.intoArray(tile, t);
        c0b.intoArray(tile, t + L);
        c1a.intoArray(tile, t + NR);
        c1b.intoArray(tile, t + NR + L);
        c2a.intoArray(tile, t + 2 * NR);
        c2b.intoArray(tile, t + 2 * NR + L);
        c3a.intoArray(tile, t + 3 * NR);
        c3b.intoArray(tile, t + 3 * NR + L);
    }

    /**
     * C[0..mr, 0..nr] = alpha·tile + beta·C for the tile at {@code tileOff} (C not read when beta
     * is 0); {@code ldc} in bytes.
     */
    static void mergeTile(
            float[] tile, int tileOff, int mr, int nr, MemorySegment c, long cOff, long ldc, float alpha, float beta) {
        VectorMask<Float> m0 = S.indexInRange(0, nr);
        VectorMask<Float> m1 = S.indexInRange(L, nr);
        for (int r = 0; r < mr; r++, cOff += ldc) {
            FloatVector v0 = FloatVector.fromArray(S, tile, tileOff + r * NR);
            FloatVector v1 = FloatVector.fromArray(S, tile, tileOff + r * NR + L);
            if (alpha != 1f) {
                v0 = v0.mul(alpha);
                v1 = v1.mul(alpha);
            }
            if (nr == NR) {
                if (beta != 0f) {
                    v0 = FloatVector.fromMemorySegment(S, c, cOff, NATIVE)
                            .mul(beta)
                            .add(v0);
                    v1 = FloatVector.fromMemorySegment(S, c, cOff + 4L * L, NATIVE)
                            .mul(beta)
                            .add(v1);
                }
                v0.intoMemorySegment(c, cOff, NATIVE);
                v1.intoMemorySegment(c, cOff + 4L * L, NATIVE);
            } else {
                if (beta != 0f) {
                    v0 = FloatVector.fromMemorySegment(S, c, cOff, NATIVE, m0)
                            .mul(beta)
                            .add(v0);
                    v1 = FloatVector.fromMemorySegment(S, c, cOff + 4L * L, NATIVE, m1)
                            .mul(beta)
                            .add(v1);
                }
                v0.intoMemorySegment(c, cOff, NATIVE, m0);
                v1.intoMemorySegment(c, cOff + 4L * L, NATIVE, m1);
            }
        }
    }

    /**
     * C[0..mr, 0..nr] += bias[r] per row (the tile just merged), {@code ldc} in bytes: a
     * convolution's per-output-channel bias, added while the tile is in cache.
     */
    static void addRowBias(MemorySegment c, long cOff, long ldc, int mr, int nr, MemorySegment bias, long biasOff) {
        VectorMask<Float> m0 = S.indexInRange(0, nr);
        VectorMask<Float> m1 = S.indexInRange(L, nr);
        for (int r = 0; r < mr; r++, cOff += ldc) {
            float b = bias.get(F, biasOff + 4L * r);
            FloatVector.fromMemorySegment(S, c, cOff, NATIVE, m0).add(b).intoMemorySegment(c, cOff, NATIVE, m0);
            if (nr > L) {
                FloatVector.fromMemorySegment(S, c, cOff + 4L * L, NATIVE, m1)
                        .add(b)
                        .intoMemorySegment(c, cOff + 4L * L, NATIVE, m1);
            }
        }
    }

    /** acc[accOff + r·NR + j] (+)= tile[r·NR + j] for rows [0, mr): a short panel's tile into the carried tiles. */
    static void carryTile(float[] tile, int mr, float[] acc, int accOff, boolean first) {
        for (int r = 0, o = 0; r < mr; r++, o += NR) {
            FloatVector v0 = FloatVector.fromArray(S, tile, o);
            FloatVector v1 = FloatVector.fromArray(S, tile, o + L);
            if (!first) {
                v0 = v0.add(FloatVector.fromArray(S, acc, accOff + o));
                v1 = v1.add(FloatVector.fromArray(S, acc, accOff + o + L));
            }
            v0.intoArray(acc, accOff + o);
            v1.intoArray(acc, accOff + o + L);
        }
    }

    /**
     * Packs rows [i0, i0+mr) × columns [k0, k0+kc) of A (element (i, k) at
     * {@code base + i·rs + k·cs}) as one micro-panel, zero-padding rows mr..MR.
     */
    static void packA(
            MemorySegment a, long base, long rs, long cs, int i0, int mr, int k0, int kc, float[] dst, int dstOff) {
        for (int r = 0; r < mr; r++) {
            long row = base + (i0 + r) * rs + k0 * cs;
            int d = dstOff + r;
            if (cs == 1) {
                for (int k = 0; k < kc; k++, d += MR) {
                    dst[d] = a.getAtIndex(F, row + k);
                }
            } else {
                for (int k = 0; k < kc; k++, d += MR) {
                    dst[d] = a.getAtIndex(F, row + k * cs);
                }
            }
        }
        for (int r = mr; r < MR; r++) {
            for (int k = 0, d = dstOff + r; k < kc; k++, d += MR) {
                dst[d] = 0f;
            }
        }
    }

    /**
     * Packs rows [k0, k0+kc) × columns [p0·NR, (p0 + panels)·NR) of a row-major B (element
     * (k, j) at {@code base + k·rs + j}) as {@code panels} whole micro-panels, panel p at
     * {@code dstOff + p·panelStride}. Row by row, so that each row of the block is read once
     * from left to right (one panel at a time would touch a new page for every k).
     */
    static void packBRows(
            MemorySegment b,
            long base,
            long rs,
            int k0,
            int kc,
            int p0,
            int panels,
            float[] dst,
            int dstOff,
            int panelStride) {
        long row = (base + k0 * rs + (long) p0 * NR) * 4L;
        for (int k = 0; k < kc; k++, row += rs * 4L) {
            long src = row;
            int d = dstOff + k * NR;
            for (int p = 0; p < panels; p++, src += 4L * NR, d += panelStride) {
                FloatVector.fromMemorySegment(S, b, src, NATIVE).intoArray(dst, d);
                FloatVector.fromMemorySegment(S, b, src + 4L * L, NATIVE).intoArray(dst, d + L);
            }
        }
    }

    /**
     * Packs rows [k0, k0+kc) × columns [j0, j0+nr) of B (element (k, j) at
     * {@code base + k·rs + j·cs}) as one micro-panel, zero-padding columns nr..NR.
     */
    static void packB(
            MemorySegment b, long base, long rs, long cs, int k0, int kc, int j0, int nr, float[] dst, int dstOff) {
        if (cs == 1 && nr == NR) {
            // Row-major B: each k contributes two whole vectors.
            long byteRow = (base + k0 * rs + j0) * 4L;
            for (int k = 0, d = dstOff; k < kc; k++, d += NR, byteRow += rs * 4L) {
                FloatVector.fromMemorySegment(S, b, byteRow, NATIVE).intoArray(dst, d);
                FloatVector.fromMemorySegment(S, b, byteRow + 4L * L, NATIVE).intoArray(dst, d + L);
            }
            return;
        }
        if (rs == 1) {
            // B is a transposed row-major weight: each column is contiguous in memory. Copy it in
            // bulk, then scatter it into the panel (stride NR) from the heap, where C2 can unroll.
            float[] column = COLUMN.get();
            if (column.length < kc) {
                column = new float[kc];
                COLUMN.set(column);
            }
            for (int j = 0; j < nr; j++) {
                MemorySegment.copy(b, F, (base + (j0 + j) * cs + k0) * 4L, column, 0, kc);
                for (int k = 0, d = dstOff + j; k < kc; k++, d += NR) {
                    dst[d] = column[k];
                }
            }
        } else {
            for (int j = 0; j < nr; j++) {
                long col = base + (j0 + j) * cs + k0 * rs;
                for (int k = 0, d = dstOff + j; k < kc; k++, d += NR) {
                    dst[d] = b.getAtIndex(F, col + k * rs);
                }
            }
        }
        if (nr < NR) {
            for (int k = 0; k < kc; k++) {
                int d = dstOff + k * NR;
                java.util.Arrays.fill(dst, d + nr, d + NR, 0f);
            }
        }
    }
}
