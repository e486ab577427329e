package org.tessera.engine.cpu;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * How the GEMM register kernel reads A decides its speed (issue 18): the kernel alone, on panels
 * in L1/L2, one thread, reading each A value as a broadcast from the heap array, as a broadcast
 * through a memory-segment view of the same array, or from A packed pre-broadcast, at 6 and 12
 * rows; other AVX2 tiles (5×2 and 4×3 vectors) through the view, 3×3 and 4×3 vectors from the
 * array; and GemmKernel's own kernel for this machine's tile. In the engine's package, on the
 * class path, to reach the package-private kernel. Each variant has its own method, so that the
 * JIT's profile of one does not slow another.
 *
 *   bench/kernel-broadcast.sh       # under -XX:UseAVX=2, with 128-bit vectors, at the machine's width
 */
public final class KernelBroadcast {
    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    static final int L = S.length();
    static final int NR = 2 * L;
    static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;
    static final int KC = 256;

    static final com.sun.management.ThreadMXBean ALLOCATED =
            (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();

    interface Call {
        float run(int aPanel, int bPanel);
    }

    /** 6×NR, each A value broadcast from the heap array (a[k·6 + r]). */
    static float arrayBroadcast6(float[] a, int aOff, float[] b, int bOff, int kc) {
        FloatVector c0a = FloatVector.zero(S), c0b = FloatVector.zero(S);
        FloatVector c1a = FloatVector.zero(S), c1b = FloatVector.zero(S);
        FloatVector c2a = FloatVector.zero(S), c2b = FloatVector.zero(S);
        FloatVector c3a = FloatVector.zero(S), c3b = FloatVector.zero(S);
        FloatVector c4a = FloatVector.zero(S), c4b = FloatVector.zero(S);
        FloatVector c5a = FloatVector.zero(S), c5b = FloatVector.zero(S);
        for (int k = 0; k < kc; k++) {
            FloatVector b0 = FloatVector.fromArray(S, b, bOff);
            FloatVector b1 = FloatVector.fromArray(S, b, bOff + L);
            FloatVector a0 = FloatVector.broadcast(S, a[aOff + 0]);
            c0a = a0.fma(b0, c0a);
            c0b = a0.fma(b1, c0b);
            FloatVector a1 = FloatVector.broadcast(S, a[aOff + 1]);
            c1a = a1.fma(b0, c1a);
            c1b = a1.fma(b1, c1b);
            FloatVector a2 = FloatVector.broadcast(S, a[aOff + 2]);
            c2a = a2.fma(b0, c2a);
            c2b = a2.fma(b1, c2b);
            FloatVector a3 = FloatVector.broadcast(S, a[aOff + 3]);
            c3a = a3.fma(b0, c3a);
            c3b = a3.fma(b1, c3b);
            FloatVector a4 = FloatVector.broadcast(S, a[aOff + 4]);
            c4a = a4.fma(b0, c4a);
            c4b = a4.fma(b1, c4b);
            FloatVector a5 = FloatVector.broadcast(S, a[aOff + 5]);
            c5a = a5.fma(b0, c5a);
            c5b = a5.fma(b1, c5b);
            aOff += 6;
            bOff += NR;
        }
        return c0a.add(c1a).add(c2a).add(c3a).add(c4a).add(c5a).add(c0b).add(c1b).add(c2b).add(c3b).add(c4b).add(c5b).reduceLanes(VectorOperators.ADD);
    }

    /** 6×NR, each A value broadcast from a segment view of the same array. */
    static float segmentBroadcast6(MemorySegment a, long aByte, float[] b, int bOff, int kc) {
        FloatVector c0a = FloatVector.zero(S), c0b = FloatVector.zero(S);
        FloatVector c1a = FloatVector.zero(S), c1b = FloatVector.zero(S);
        FloatVector c2a = FloatVector.zero(S), c2b = FloatVector.zero(S);
        FloatVector c3a = FloatVector.zero(S), c3b = FloatVector.zero(S);
        FloatVector c4a = FloatVector.zero(S), c4b = FloatVector.zero(S);
        FloatVector c5a = FloatVector.zero(S), c5b = FloatVector.zero(S);
        for (int k = 0; k < kc; k++) {
            FloatVector b0 = FloatVector.fromArray(S, b, bOff);
            FloatVector b1 = FloatVector.fromArray(S, b, bOff + L);
            FloatVector a0 = FloatVector.broadcast(S, a.get(F, aByte + 0));
            c0a = a0.fma(b0, c0a);
            c0b = a0.fma(b1, c0b);
            FloatVector a1 = FloatVector.broadcast(S, a.get(F, aByte + 4));
            c1a = a1.fma(b0, c1a);
            c1b = a1.fma(b1, c1b);
            FloatVector a2 = FloatVector.broadcast(S, a.get(F, aByte + 8));
            c2a = a2.fma(b0, c2a);
            c2b = a2.fma(b1, c2b);
            FloatVector a3 = FloatVector.broadcast(S, a.get(F, aByte + 12));
            c3a = a3.fma(b0, c3a);
            c3b = a3.fma(b1, c3b);
            FloatVector a4 = FloatVector.broadcast(S, a.get(F, aByte + 16));
            c4a = a4.fma(b0, c4a);
            c4b = a4.fma(b1, c4b);
            FloatVector a5 = FloatVector.broadcast(S, a.get(F, aByte + 20));
            c5a = a5.fma(b0, c5a);
            c5b = a5.fma(b1, c5b);
            aByte += 24;
            bOff += NR;
        }
        return c0a.add(c1a).add(c2a).add(c3a).add(c4a).add(c5a).add(c0b).add(c1b).add(c2b).add(c3b).add(c4b).add(c5b).reduceLanes(VectorOperators.ADD);
    }

    /** 12×NR, each A value broadcast from the heap array (a[k·12 + r]). */
    static float arrayBroadcast12(float[] a, int aOff, float[] b, int bOff, int kc) {
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
            FloatVector a0 = FloatVector.broadcast(S, a[aOff + 0]);
            c0a = a0.fma(b0, c0a);
            c0b = a0.fma(b1, c0b);
            FloatVector a1 = FloatVector.broadcast(S, a[aOff + 1]);
            c1a = a1.fma(b0, c1a);
            c1b = a1.fma(b1, c1b);
            FloatVector a2 = FloatVector.broadcast(S, a[aOff + 2]);
            c2a = a2.fma(b0, c2a);
            c2b = a2.fma(b1, c2b);
            FloatVector a3 = FloatVector.broadcast(S, a[aOff + 3]);
            c3a = a3.fma(b0, c3a);
            c3b = a3.fma(b1, c3b);
            FloatVector a4 = FloatVector.broadcast(S, a[aOff + 4]);
            c4a = a4.fma(b0, c4a);
            c4b = a4.fma(b1, c4b);
            FloatVector a5 = FloatVector.broadcast(S, a[aOff + 5]);
            c5a = a5.fma(b0, c5a);
            c5b = a5.fma(b1, c5b);
            FloatVector a6 = FloatVector.broadcast(S, a[aOff + 6]);
            c6a = a6.fma(b0, c6a);
            c6b = a6.fma(b1, c6b);
            FloatVector a7 = FloatVector.broadcast(S, a[aOff + 7]);
            c7a = a7.fma(b0, c7a);
            c7b = a7.fma(b1, c7b);
            FloatVector a8 = FloatVector.broadcast(S, a[aOff + 8]);
            c8a = a8.fma(b0, c8a);
            c8b = a8.fma(b1, c8b);
            FloatVector a9 = FloatVector.broadcast(S, a[aOff + 9]);
            c9a = a9.fma(b0, c9a);
            c9b = a9.fma(b1, c9b);
            FloatVector a10 = FloatVector.broadcast(S, a[aOff + 10]);
            c10a = a10.fma(b0, c10a);
            c10b = a10.fma(b1, c10b);
            FloatVector a11 = FloatVector.broadcast(S, a[aOff + 11]);
            c11a = a11.fma(b0, c11a);
            c11b = a11.fma(b1, c11b);
            aOff += 12;
            bOff += NR;
        }
        return c0a.add(c1a).add(c2a).add(c3a).add(c4a).add(c5a).add(c6a).add(c7a).add(c8a).add(c9a).add(c10a).add(c11a).add(c0b).add(c1b).add(c2b).add(c3b).add(c4b).add(c5b).add(c6b).add(c7b).add(c8b).add(c9b).add(c10b).add(c11b).reduceLanes(VectorOperators.ADD);
    }

    /** 12×NR, each A value broadcast from a segment view of the same array. */
    static float segmentBroadcast12(MemorySegment a, long aByte, float[] b, int bOff, int kc) {
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
            FloatVector a0 = FloatVector.broadcast(S, a.get(F, aByte + 0));
            c0a = a0.fma(b0, c0a);
            c0b = a0.fma(b1, c0b);
            FloatVector a1 = FloatVector.broadcast(S, a.get(F, aByte + 4));
            c1a = a1.fma(b0, c1a);
            c1b = a1.fma(b1, c1b);
            FloatVector a2 = FloatVector.broadcast(S, a.get(F, aByte + 8));
            c2a = a2.fma(b0, c2a);
            c2b = a2.fma(b1, c2b);
            FloatVector a3 = FloatVector.broadcast(S, a.get(F, aByte + 12));
            c3a = a3.fma(b0, c3a);
            c3b = a3.fma(b1, c3b);
            FloatVector a4 = FloatVector.broadcast(S, a.get(F, aByte + 16));
            c4a = a4.fma(b0, c4a);
            c4b = a4.fma(b1, c4b);
            FloatVector a5 = FloatVector.broadcast(S, a.get(F, aByte + 20));
            c5a = a5.fma(b0, c5a);
            c5b = a5.fma(b1, c5b);
            FloatVector a6 = FloatVector.broadcast(S, a.get(F, aByte + 24));
            c6a = a6.fma(b0, c6a);
            c6b = a6.fma(b1, c6b);
            FloatVector a7 = FloatVector.broadcast(S, a.get(F, aByte + 28));
            c7a = a7.fma(b0, c7a);
            c7b = a7.fma(b1, c7b);
            FloatVector a8 = FloatVector.broadcast(S, a.get(F, aByte + 32));
            c8a = a8.fma(b0, c8a);
            c8b = a8.fma(b1, c8b);
            FloatVector a9 = FloatVector.broadcast(S, a.get(F, aByte + 36));
            c9a = a9.fma(b0, c9a);
            c9b = a9.fma(b1, c9b);
            FloatVector a10 = FloatVector.broadcast(S, a.get(F, aByte + 40));
            c10a = a10.fma(b0, c10a);
            c10b = a10.fma(b1, c10b);
            FloatVector a11 = FloatVector.broadcast(S, a.get(F, aByte + 44));
            c11a = a11.fma(b0, c11a);
            c11b = a11.fma(b1, c11b);
            aByte += 48;
            bOff += NR;
        }
        return c0a.add(c1a).add(c2a).add(c3a).add(c4a).add(c5a).add(c6a).add(c7a).add(c8a).add(c9a).add(c10a).add(c11a).add(c0b).add(c1b).add(c2b).add(c3b).add(c4b).add(c5b).add(c6b).add(c7b).add(c8b).add(c9b).add(c10b).add(c11b).reduceLanes(VectorOperators.ADD);
    }

    /**
     * 6×NR through a segment with the k loop unrolled by hand, two steps a turn: half the loop's
     * own instructions (counter, branch, offset updates) per multiply-add, in case C2 leaves the
     * loop as it is and AVX2's issue width, not its FMA units, is what binds.
     *
     * <p>Measured on an AMD EPYC (Zen 4), 2026-12-07, under AVX2: one step 91–93 GF/s, two 101–104,
     * four ({@link #segmentBroadcast6x4k}) 111.5 of a peak near 118; with 128-bit vectors 47, 52
     * and 55 of 59. Not yet in GemmKernel, because the four-step kernel is too big for C1: its
     * tier-3 compile fails ("out of virtual registers in linear scan"), and a kernel called with
     * short K blocks (44 steps) then stayed in C1's tier 2 and boxed its vectors (57 KB per call,
     * where 256 steps a call reached C2 through on-stack replacement and allocated nothing). The
     * two-step form compiled in GemmKernel, with the tile stores and an odd last step, ran at 65
     * GF/s there. A kernel that unrolls has to reach C2 whatever its callers' K.
     *
     * <p>Session 18 (same machine): three steps ({@link #segmentBroadcast6x3k}) compile at every C1
     * tier and ran at 104 GF/s here; in GemmKernel (three steps, an odd last step in a method of
     * its own, K blocks rounded to multiples of 3) the kernel alone ran at 107–112. But there C2 ran
     * out of its parse budget (NodeCountInliningCutoff, 18,000 nodes; -XX:+PrintInlining): each A
     * read through the segment is a VarHandle access with its checks, hundreds of nodes before
     * they fold, and the last Vector API calls parsed (the tile stores) were not intrinsified, so
     * C2 kept the accumulators boxed through the loop: 2.4 MB per call of GemmAllocationTest's
     * product, every run. Two steps a turn did the same (1.2–1.8 MB). One step a turn stays inside
     * the budget; this is also, likely, the 65 GF/s above. Unrolling by hand needs A reads that
     * cost C2 fewer nodes, and reads from the heap array (which cost few) run at half speed under
     * AVX2 ({@link #arrayBroadcast6}, {@link #arrayLinear6}).
     */
    static float segmentBroadcast6x2k(MemorySegment a, long aByte, float[] b, int bOff, int kc) {
        FloatVector c0a = FloatVector.zero(S), c0b = FloatVector.zero(S);
        FloatVector c1a = FloatVector.zero(S), c1b = FloatVector.zero(S);
        FloatVector c2a = FloatVector.zero(S), c2b = FloatVector.zero(S);
        FloatVector c3a = FloatVector.zero(S), c3b = FloatVector.zero(S);
        FloatVector c4a = FloatVector.zero(S), c4b = FloatVector.zero(S);
        FloatVector c5a = FloatVector.zero(S), c5b = FloatVector.zero(S);
        for (int k = 0; k < kc; k += 2) {
            {
                FloatVector b0 = FloatVector.fromArray(S, b, bOff);
                FloatVector b1 = FloatVector.fromArray(S, b, bOff + L);
                FloatVector a0 = FloatVector.broadcast(S, a.get(F, aByte + 0));
                c0a = a0.fma(b0, c0a);
                c0b = a0.fma(b1, c0b);
                FloatVector a1 = FloatVector.broadcast(S, a.get(F, aByte + 4));
                c1a = a1.fma(b0, c1a);
                c1b = a1.fma(b1, c1b);
                FloatVector a2 = FloatVector.broadcast(S, a.get(F, aByte + 8));
                c2a = a2.fma(b0, c2a);
                c2b = a2.fma(b1, c2b);
                FloatVector a3 = FloatVector.broadcast(S, a.get(F, aByte + 12));
                c3a = a3.fma(b0, c3a);
                c3b = a3.fma(b1, c3b);
                FloatVector a4 = FloatVector.broadcast(S, a.get(F, aByte + 16));
                c4a = a4.fma(b0, c4a);
                c4b = a4.fma(b1, c4b);
                FloatVector a5 = FloatVector.broadcast(S, a.get(F, aByte + 20));
                c5a = a5.fma(b0, c5a);
                c5b = a5.fma(b1, c5b);
            }
            {
                FloatVector b0 = FloatVector.fromArray(S, b, bOff + NR);
                FloatVector b1 = FloatVector.fromArray(S, b, bOff + NR + L);
                FloatVector a0 = FloatVector.broadcast(S, a.get(F, aByte + 24));
                c0a = a0.fma(b0, c0a);
                c0b = a0.fma(b1, c0b);
                FloatVector a1 = FloatVector.broadcast(S, a.get(F, aByte + 28));
                c1a = a1.fma(b0, c1a);
                c1b = a1.fma(b1, c1b);
                FloatVector a2 = FloatVector.broadcast(S, a.get(F, aByte + 32));
                c2a = a2.fma(b0, c2a);
                c2b = a2.fma(b1, c2b);
                FloatVector a3 = FloatVector.broadcast(S, a.get(F, aByte + 36));
                c3a = a3.fma(b0, c3a);
                c3b = a3.fma(b1, c3b);
                FloatVector a4 = FloatVector.broadcast(S, a.get(F, aByte + 40));
                c4a = a4.fma(b0, c4a);
                c4b = a4.fma(b1, c4b);
                FloatVector a5 = FloatVector.broadcast(S, a.get(F, aByte + 44));
                c5a = a5.fma(b0, c5a);
                c5b = a5.fma(b1, c5b);
            }
            aByte += 48;
            bOff += 2 * NR;
        }
        return c0a.add(c1a).add(c2a).add(c3a).add(c4a).add(c5a).add(c0b).add(c1b).add(c2b).add(c3b).add(c4b).add(c5b).reduceLanes(VectorOperators.ADD);
    }

    /** As {@link #segmentBroadcast6x2k}, four steps a turn. */
    static float segmentBroadcast6x4k(MemorySegment a, long aByte, float[] b, int bOff, int kc) {
        FloatVector c0a = FloatVector.zero(S), c0b = FloatVector.zero(S);
        FloatVector c1a = FloatVector.zero(S), c1b = FloatVector.zero(S);
        FloatVector c2a = FloatVector.zero(S), c2b = FloatVector.zero(S);
        FloatVector c3a = FloatVector.zero(S), c3b = FloatVector.zero(S);
        FloatVector c4a = FloatVector.zero(S), c4b = FloatVector.zero(S);
        FloatVector c5a = FloatVector.zero(S), c5b = FloatVector.zero(S);
        for (int k = 0; k < kc; k += 4) {
            {
                FloatVector b0 = FloatVector.fromArray(S, b, bOff);
                FloatVector b1 = FloatVector.fromArray(S, b, bOff + L);
                FloatVector a0 = FloatVector.broadcast(S, a.get(F, aByte + 0));
                c0a = a0.fma(b0, c0a);
                c0b = a0.fma(b1, c0b);
                FloatVector a1 = FloatVector.broadcast(S, a.get(F, aByte + 4));
                c1a = a1.fma(b0, c1a);
                c1b = a1.fma(b1, c1b);
                FloatVector a2 = FloatVector.broadcast(S, a.get(F, aByte + 8));
                c2a = a2.fma(b0, c2a);
                c2b = a2.fma(b1, c2b);
                FloatVector a3 = FloatVector.broadcast(S, a.get(F, aByte + 12));
                c3a = a3.fma(b0, c3a);
                c3b = a3.fma(b1, c3b);
                FloatVector a4 = FloatVector.broadcast(S, a.get(F, aByte + 16));
                c4a = a4.fma(b0, c4a);
                c4b = a4.fma(b1, c4b);
                FloatVector a5 = FloatVector.broadcast(S, a.get(F, aByte + 20));
                c5a = a5.fma(b0, c5a);
                c5b = a5.fma(b1, c5b);
            }
            {
                FloatVector b0 = FloatVector.fromArray(S, b, bOff + NR);
                FloatVector b1 = FloatVector.fromArray(S, b, bOff + NR + L);
                FloatVector a0 = FloatVector.broadcast(S, a.get(F, aByte + 24));
                c0a = a0.fma(b0, c0a);
                c0b = a0.fma(b1, c0b);
                FloatVector a1 = FloatVector.broadcast(S, a.get(F, aByte + 28));
                c1a = a1.fma(b0, c1a);
                c1b = a1.fma(b1, c1b);
                FloatVector a2 = FloatVector.broadcast(S, a.get(F, aByte + 32));
                c2a = a2.fma(b0, c2a);
                c2b = a2.fma(b1, c2b);
                FloatVector a3 = FloatVector.broadcast(S, a.get(F, aByte + 36));
                c3a = a3.fma(b0, c3a);
                c3b = a3.fma(b1, c3b);
                FloatVector a4 = FloatVector.broadcast(S, a.get(F, aByte + 40));
                c4a = a4.fma(b0, c4a);
                c4b = a4.fma(b1, c4b);
                FloatVector a5 = FloatVector.broadcast(S, a.get(F, aByte + 44));
                c5a = a5.fma(b0, c5a);
                c5b = a5.fma(b1, c5b);
            }
            {
                FloatVector b0 = FloatVector.fromArray(S, b, bOff + 2 * NR);
                FloatVector b1 = FloatVector.fromArray(S, b, bOff + 2 * NR + L);
                FloatVector a0 = FloatVector.broadcast(S, a.get(F, aByte + 48));
                c0a = a0.fma(b0, c0a);
                c0b = a0.fma(b1, c0b);
                FloatVector a1 = FloatVector.broadcast(S, a.get(F, aByte + 52));
                c1a = a1.fma(b0, c1a);
                c1b = a1.fma(b1, c1b);
                FloatVector a2 = FloatVector.broadcast(S, a.get(F, aByte + 56));
                c2a = a2.fma(b0, c2a);
                c2b = a2.fma(b1, c2b);
                FloatVector a3 = FloatVector.broadcast(S, a.get(F, aByte + 60));
                c3a = a3.fma(b0, c3a);
                c3b = a3.fma(b1, c3b);
                FloatVector a4 = FloatVector.broadcast(S, a.get(F, aByte + 64));
                c4a = a4.fma(b0, c4a);
                c4b = a4.fma(b1, c4b);
                FloatVector a5 = FloatVector.broadcast(S, a.get(F, aByte + 68));
                c5a = a5.fma(b0, c5a);
                c5b = a5.fma(b1, c5b);
            }
            {
                FloatVector b0 = FloatVector.fromArray(S, b, bOff + 3 * NR);
                FloatVector b1 = FloatVector.fromArray(S, b, bOff + 3 * NR + L);
                FloatVector a0 = FloatVector.broadcast(S, a.get(F, aByte + 72));
                c0a = a0.fma(b0, c0a);
                c0b = a0.fma(b1, c0b);
                FloatVector a1 = FloatVector.broadcast(S, a.get(F, aByte + 76));
                c1a = a1.fma(b0, c1a);
                c1b = a1.fma(b1, c1b);
                FloatVector a2 = FloatVector.broadcast(S, a.get(F, aByte + 80));
                c2a = a2.fma(b0, c2a);
                c2b = a2.fma(b1, c2b);
                FloatVector a3 = FloatVector.broadcast(S, a.get(F, aByte + 84));
                c3a = a3.fma(b0, c3a);
                c3b = a3.fma(b1, c3b);
                FloatVector a4 = FloatVector.broadcast(S, a.get(F, aByte + 88));
                c4a = a4.fma(b0, c4a);
                c4b = a4.fma(b1, c4b);
                FloatVector a5 = FloatVector.broadcast(S, a.get(F, aByte + 92));
                c5a = a5.fma(b0, c5a);
                c5b = a5.fma(b1, c5b);
            }
            aByte += 96;
            bOff += 4 * NR;
        }
        return c0a.add(c1a).add(c2a).add(c3a).add(c4a).add(c5a).add(c0b).add(c1b).add(c2b).add(c3b).add(c4b).add(c5b).reduceLanes(VectorOperators.ADD);
    }

    /**
     * {@link #arrayBroadcast6} with every index a linear function of k (a[aOff + 6k + r],
     * b[bOff + NR·k]) rather than offsets bumped each step, so that C2 can prove the accesses in
     * bounds once per loop (range-check elimination works on the loop variable).
     */
    static float arrayLinear6(float[] a, int aOff, float[] b, int bOff, int kc) {
        FloatVector c0a = FloatVector.zero(S), c0b = FloatVector.zero(S);
        FloatVector c1a = FloatVector.zero(S), c1b = FloatVector.zero(S);
        FloatVector c2a = FloatVector.zero(S), c2b = FloatVector.zero(S);
        FloatVector c3a = FloatVector.zero(S), c3b = FloatVector.zero(S);
        FloatVector c4a = FloatVector.zero(S), c4b = FloatVector.zero(S);
        FloatVector c5a = FloatVector.zero(S), c5b = FloatVector.zero(S);
        for (int k = 0; k < kc; k++) {
            int ai = aOff + 6 * k, bi = bOff + NR * k;
            FloatVector b0 = FloatVector.fromArray(S, b, bi);
            FloatVector b1 = FloatVector.fromArray(S, b, bi + L);
            FloatVector a0 = FloatVector.broadcast(S, a[ai + 0]);
            c0a = a0.fma(b0, c0a);
            c0b = a0.fma(b1, c0b);
            FloatVector a1 = FloatVector.broadcast(S, a[ai + 1]);
            c1a = a1.fma(b0, c1a);
            c1b = a1.fma(b1, c1b);
            FloatVector a2 = FloatVector.broadcast(S, a[ai + 2]);
            c2a = a2.fma(b0, c2a);
            c2b = a2.fma(b1, c2b);
            FloatVector a3 = FloatVector.broadcast(S, a[ai + 3]);
            c3a = a3.fma(b0, c3a);
            c3b = a3.fma(b1, c3b);
            FloatVector a4 = FloatVector.broadcast(S, a[ai + 4]);
            c4a = a4.fma(b0, c4a);
            c4b = a4.fma(b1, c4b);
            FloatVector a5 = FloatVector.broadcast(S, a[ai + 5]);
            c5a = a5.fma(b0, c5a);
            c5b = a5.fma(b1, c5b);
        }
        return c0a.add(c1a).add(c2a).add(c3a).add(c4a).add(c5a).add(c0b).add(c1b).add(c2b).add(c3b).add(c4b).add(c5b).reduceLanes(VectorOperators.ADD);
    }

    /** {@link #segmentBroadcast6} with every offset a linear function of k. */
    static float segmentLinear6(MemorySegment a, long aByte, float[] b, int bOff, int kc) {
        FloatVector c0a = FloatVector.zero(S), c0b = FloatVector.zero(S);
        FloatVector c1a = FloatVector.zero(S), c1b = FloatVector.zero(S);
        FloatVector c2a = FloatVector.zero(S), c2b = FloatVector.zero(S);
        FloatVector c3a = FloatVector.zero(S), c3b = FloatVector.zero(S);
        FloatVector c4a = FloatVector.zero(S), c4b = FloatVector.zero(S);
        FloatVector c5a = FloatVector.zero(S), c5b = FloatVector.zero(S);
        for (int k = 0; k < kc; k++) {
            long ab = aByte + 24L * k; int bi = bOff + NR * k;
            FloatVector b0 = FloatVector.fromArray(S, b, bi);
            FloatVector b1 = FloatVector.fromArray(S, b, bi + L);
            FloatVector a0 = FloatVector.broadcast(S, a.get(F, ab + 0));
            c0a = a0.fma(b0, c0a);
            c0b = a0.fma(b1, c0b);
            FloatVector a1 = FloatVector.broadcast(S, a.get(F, ab + 4));
            c1a = a1.fma(b0, c1a);
            c1b = a1.fma(b1, c1b);
            FloatVector a2 = FloatVector.broadcast(S, a.get(F, ab + 8));
            c2a = a2.fma(b0, c2a);
            c2b = a2.fma(b1, c2b);
            FloatVector a3 = FloatVector.broadcast(S, a.get(F, ab + 12));
            c3a = a3.fma(b0, c3a);
            c3b = a3.fma(b1, c3b);
            FloatVector a4 = FloatVector.broadcast(S, a.get(F, ab + 16));
            c4a = a4.fma(b0, c4a);
            c4b = a4.fma(b1, c4b);
            FloatVector a5 = FloatVector.broadcast(S, a.get(F, ab + 20));
            c5a = a5.fma(b0, c5a);
            c5b = a5.fma(b1, c5b);
        }
        return c0a.add(c1a).add(c2a).add(c3a).add(c4a).add(c5a).add(c0b).add(c1b).add(c2b).add(c3b).add(c4b).add(c5b).reduceLanes(VectorOperators.ADD);
    }

    /** As {@link #segmentBroadcast6x2k}, three steps a turn, for a kc that is a multiple of 3 (timed with 255). */
    static float segmentBroadcast6x3k(MemorySegment a, long aByte, float[] b, int bOff, int kc) {
        FloatVector c0a = FloatVector.zero(S), c0b = FloatVector.zero(S);
        FloatVector c1a = FloatVector.zero(S), c1b = FloatVector.zero(S);
        FloatVector c2a = FloatVector.zero(S), c2b = FloatVector.zero(S);
        FloatVector c3a = FloatVector.zero(S), c3b = FloatVector.zero(S);
        FloatVector c4a = FloatVector.zero(S), c4b = FloatVector.zero(S);
        FloatVector c5a = FloatVector.zero(S), c5b = FloatVector.zero(S);
        for (int k = 0; k + 3 <= kc; k += 3) {
            {
                FloatVector b0 = FloatVector.fromArray(S, b, bOff + 0 * NR);
                FloatVector b1 = FloatVector.fromArray(S, b, bOff + 0 * NR + L);
                FloatVector a0 = FloatVector.broadcast(S, a.get(F, aByte + 0));
                c0a = a0.fma(b0, c0a);
                c0b = a0.fma(b1, c0b);
                FloatVector a1 = FloatVector.broadcast(S, a.get(F, aByte + 4));
                c1a = a1.fma(b0, c1a);
                c1b = a1.fma(b1, c1b);
                FloatVector a2 = FloatVector.broadcast(S, a.get(F, aByte + 8));
                c2a = a2.fma(b0, c2a);
                c2b = a2.fma(b1, c2b);
                FloatVector a3 = FloatVector.broadcast(S, a.get(F, aByte + 12));
                c3a = a3.fma(b0, c3a);
                c3b = a3.fma(b1, c3b);
                FloatVector a4 = FloatVector.broadcast(S, a.get(F, aByte + 16));
                c4a = a4.fma(b0, c4a);
                c4b = a4.fma(b1, c4b);
                FloatVector a5 = FloatVector.broadcast(S, a.get(F, aByte + 20));
                c5a = a5.fma(b0, c5a);
                c5b = a5.fma(b1, c5b);
            }
            {
                FloatVector b0 = FloatVector.fromArray(S, b, bOff + 1 * NR);
                FloatVector b1 = FloatVector.fromArray(S, b, bOff + 1 * NR + L);
                FloatVector a0 = FloatVector.broadcast(S, a.get(F, aByte + 24));
                c0a = a0.fma(b0, c0a);
                c0b = a0.fma(b1, c0b);
                FloatVector a1 = FloatVector.broadcast(S, a.get(F, aByte + 28));
                c1a = a1.fma(b0, c1a);
                c1b = a1.fma(b1, c1b);
                FloatVector a2 = FloatVector.broadcast(S, a.get(F, aByte + 32));
                c2a = a2.fma(b0, c2a);
                c2b = a2.fma(b1, c2b);
                FloatVector a3 = FloatVector.broadcast(S, a.get(F, aByte + 36));
                c3a = a3.fma(b0, c3a);
                c3b = a3.fma(b1, c3b);
                FloatVector a4 = FloatVector.broadcast(S, a.get(F, aByte + 40));
                c4a = a4.fma(b0, c4a);
                c4b = a4.fma(b1, c4b);
                FloatVector a5 = FloatVector.broadcast(S, a.get(F, aByte + 44));
                c5a = a5.fma(b0, c5a);
                c5b = a5.fma(b1, c5b);
            }
            {
                FloatVector b0 = FloatVector.fromArray(S, b, bOff + 2 * NR);
                FloatVector b1 = FloatVector.fromArray(S, b, bOff + 2 * NR + L);
                FloatVector a0 = FloatVector.broadcast(S, a.get(F, aByte + 48));
                c0a = a0.fma(b0, c0a);
                c0b = a0.fma(b1, c0b);
                FloatVector a1 = FloatVector.broadcast(S, a.get(F, aByte + 52));
                c1a = a1.fma(b0, c1a);
                c1b = a1.fma(b1, c1b);
                FloatVector a2 = FloatVector.broadcast(S, a.get(F, aByte + 56));
                c2a = a2.fma(b0, c2a);
                c2b = a2.fma(b1, c2b);
                FloatVector a3 = FloatVector.broadcast(S, a.get(F, aByte + 60));
                c3a = a3.fma(b0, c3a);
                c3b = a3.fma(b1, c3b);
                FloatVector a4 = FloatVector.broadcast(S, a.get(F, aByte + 64));
                c4a = a4.fma(b0, c4a);
                c4b = a4.fma(b1, c4b);
                FloatVector a5 = FloatVector.broadcast(S, a.get(F, aByte + 68));
                c5a = a5.fma(b0, c5a);
                c5b = a5.fma(b1, c5b);
            }
            aByte += 72;
            bOff += 3 * NR;
        }
        return c0a.add(c1a).add(c2a).add(c3a).add(c4a).add(c5a).add(c0b).add(c1b).add(c2b).add(c3b).add(c4b).add(c5b).reduceLanes(VectorOperators.ADD);
    }

    /**
     * 5×NR through a segment: 10 accumulators + 2 B vectors + 1 broadcast = 13 registers, room
     * to spare on AVX2's 16 (6×NR uses 15), at 10 fused multiply-adds per 7 loads.
     */
    static float segmentBroadcast5(MemorySegment a, long aByte, float[] b, int bOff, int kc) {
        FloatVector c0a = FloatVector.zero(S), c0b = FloatVector.zero(S);
        FloatVector c1a = FloatVector.zero(S), c1b = FloatVector.zero(S);
        FloatVector c2a = FloatVector.zero(S), c2b = FloatVector.zero(S);
        FloatVector c3a = FloatVector.zero(S), c3b = FloatVector.zero(S);
        FloatVector c4a = FloatVector.zero(S), c4b = FloatVector.zero(S);
        for (int k = 0; k < kc; k++) {
            FloatVector b0 = FloatVector.fromArray(S, b, bOff);
            FloatVector b1 = FloatVector.fromArray(S, b, bOff + L);
            FloatVector a0 = FloatVector.broadcast(S, a.get(F, aByte + 0));
            c0a = a0.fma(b0, c0a);
            c0b = a0.fma(b1, c0b);
            FloatVector a1 = FloatVector.broadcast(S, a.get(F, aByte + 4));
            c1a = a1.fma(b0, c1a);
            c1b = a1.fma(b1, c1b);
            FloatVector a2 = FloatVector.broadcast(S, a.get(F, aByte + 8));
            c2a = a2.fma(b0, c2a);
            c2b = a2.fma(b1, c2b);
            FloatVector a3 = FloatVector.broadcast(S, a.get(F, aByte + 12));
            c3a = a3.fma(b0, c3a);
            c3b = a3.fma(b1, c3b);
            FloatVector a4 = FloatVector.broadcast(S, a.get(F, aByte + 16));
            c4a = a4.fma(b0, c4a);
            c4b = a4.fma(b1, c4b);
            aByte += 20;
            bOff += NR;
        }
        return c0a.add(c1a).add(c2a).add(c3a).add(c4a).add(c0b).add(c1b).add(c2b).add(c3b).add(c4b).reduceLanes(VectorOperators.ADD);
    }

    /**
     * 4×(3 vectors) through a segment: 12 accumulators + 3 B vectors + 1 broadcast = all 16 of
     * AVX2's registers, at 12 fused multiply-adds per 7 loads (6×NR: 12 per 8). B is read as a
     * panel of 3L columns.
     */
    static float segmentBroadcast4x3(MemorySegment a, long aByte, float[] b, int bOff, int kc) {
        FloatVector c0a = FloatVector.zero(S), c0b = FloatVector.zero(S), c0c = FloatVector.zero(S);
        FloatVector c1a = FloatVector.zero(S), c1b = FloatVector.zero(S), c1c = FloatVector.zero(S);
        FloatVector c2a = FloatVector.zero(S), c2b = FloatVector.zero(S), c2c = FloatVector.zero(S);
        FloatVector c3a = FloatVector.zero(S), c3b = FloatVector.zero(S), c3c = FloatVector.zero(S);
        for (int k = 0; k < kc; k++) {
            FloatVector b0 = FloatVector.fromArray(S, b, bOff);
            FloatVector b1 = FloatVector.fromArray(S, b, bOff + L);
            FloatVector b2 = FloatVector.fromArray(S, b, bOff + 2 * L);
            FloatVector a0 = FloatVector.broadcast(S, a.get(F, aByte + 0));
            c0a = a0.fma(b0, c0a);
            c0b = a0.fma(b1, c0b);
            c0c = a0.fma(b2, c0c);
            FloatVector a1 = FloatVector.broadcast(S, a.get(F, aByte + 4));
            c1a = a1.fma(b0, c1a);
            c1b = a1.fma(b1, c1b);
            c1c = a1.fma(b2, c1c);
            FloatVector a2 = FloatVector.broadcast(S, a.get(F, aByte + 8));
            c2a = a2.fma(b0, c2a);
            c2b = a2.fma(b1, c2b);
            c2c = a2.fma(b2, c2c);
            FloatVector a3 = FloatVector.broadcast(S, a.get(F, aByte + 12));
            c3a = a3.fma(b0, c3a);
            c3b = a3.fma(b1, c3b);
            c3c = a3.fma(b2, c3c);
            aByte += 16;
            bOff += 3 * L;
        }
        return c0a.add(c1a).add(c2a).add(c3a).add(c0b).add(c1b).add(c2b).add(c3b).add(c0c).add(c1c).add(c2c).add(c3c)
                .reduceLanes(VectorOperators.ADD);
    }


    /**
     * 5×NR, A broadcast from the heap array: 10 accumulators + 2 B vectors leave 4 registers
     * for broadcasts that C2 hoists to the top of the loop body (at 6 rows it hoists three and
     * spills an accumulator).
     */
    static float arrayBroadcast5(float[] a, int aOff, float[] b, int bOff, int kc) {
        FloatVector c0a = FloatVector.zero(S), c0b = FloatVector.zero(S);
        FloatVector c1a = FloatVector.zero(S), c1b = FloatVector.zero(S);
        FloatVector c2a = FloatVector.zero(S), c2b = FloatVector.zero(S);
        FloatVector c3a = FloatVector.zero(S), c3b = FloatVector.zero(S);
        FloatVector c4a = FloatVector.zero(S), c4b = FloatVector.zero(S);
        for (int k = 0; k < kc; k++) {
            FloatVector b0 = FloatVector.fromArray(S, b, bOff);
            FloatVector b1 = FloatVector.fromArray(S, b, bOff + L);
            FloatVector a0 = FloatVector.broadcast(S, a[aOff + 0]);
            c0a = a0.fma(b0, c0a);
            c0b = a0.fma(b1, c0b);
            FloatVector a1 = FloatVector.broadcast(S, a[aOff + 1]);
            c1a = a1.fma(b0, c1a);
            c1b = a1.fma(b1, c1b);
            FloatVector a2 = FloatVector.broadcast(S, a[aOff + 2]);
            c2a = a2.fma(b0, c2a);
            c2b = a2.fma(b1, c2b);
            FloatVector a3 = FloatVector.broadcast(S, a[aOff + 3]);
            c3a = a3.fma(b0, c3a);
            c3b = a3.fma(b1, c3b);
            FloatVector a4 = FloatVector.broadcast(S, a[aOff + 4]);
            c4a = a4.fma(b0, c4a);
            c4b = a4.fma(b1, c4b);
            aOff += 5;
            bOff += NR;
        }
        return c0a.add(c1a).add(c2a).add(c3a).add(c4a).add(c0b).add(c1b).add(c2b).add(c3b).add(c4b).reduceLanes(VectorOperators.ADD);
    }

    /**
     * 4×NR, A broadcast from the heap array: 8 accumulators + 2 B vectors leave 6 registers
     * for broadcasts that C2 hoists to the top of the loop body (at 6 rows it hoists three and
     * spills an accumulator).
     */
    static float arrayBroadcast4(float[] a, int aOff, float[] b, int bOff, int kc) {
        FloatVector c0a = FloatVector.zero(S), c0b = FloatVector.zero(S);
        FloatVector c1a = FloatVector.zero(S), c1b = FloatVector.zero(S);
        FloatVector c2a = FloatVector.zero(S), c2b = FloatVector.zero(S);
        FloatVector c3a = FloatVector.zero(S), c3b = FloatVector.zero(S);
        for (int k = 0; k < kc; k++) {
            FloatVector b0 = FloatVector.fromArray(S, b, bOff);
            FloatVector b1 = FloatVector.fromArray(S, b, bOff + L);
            FloatVector a0 = FloatVector.broadcast(S, a[aOff + 0]);
            c0a = a0.fma(b0, c0a);
            c0b = a0.fma(b1, c0b);
            FloatVector a1 = FloatVector.broadcast(S, a[aOff + 1]);
            c1a = a1.fma(b0, c1a);
            c1b = a1.fma(b1, c1b);
            FloatVector a2 = FloatVector.broadcast(S, a[aOff + 2]);
            c2a = a2.fma(b0, c2a);
            c2b = a2.fma(b1, c2b);
            FloatVector a3 = FloatVector.broadcast(S, a[aOff + 3]);
            c3a = a3.fma(b0, c3a);
            c3b = a3.fma(b1, c3b);
            aOff += 4;
            bOff += NR;
        }
        return c0a.add(c1a).add(c2a).add(c3a).add(c0b).add(c1b).add(c2b).add(c3b).reduceLanes(VectorOperators.ADD);
    }


    /**
     * 3×(3 vectors), A broadcast from the heap array, stored into a tile as GemmKernel.kernelRows4
     * is: 9 accumulators + 3 B vectors + the 3 broadcasts C2 hoists = 15 of 16 registers, so
     * nothing spills, and 9 multiply-add chains where 4×NR has 8 (two ports × four cycles' latency:
     * 8 chains leave no slack). Measured 91–103 GF/s against 4×16's 98–105: the extra chain does
     * not pay.
     */
    static float tileRows3x3(float[] a, int aOff, float[] b, int bOff, int kc, float[] tile, int tileOff) {
        FloatVector c0a = FloatVector.zero(S), c0b = FloatVector.zero(S), c0c = FloatVector.zero(S);
        FloatVector c1a = FloatVector.zero(S), c1b = FloatVector.zero(S), c1c = FloatVector.zero(S);
        FloatVector c2a = FloatVector.zero(S), c2b = FloatVector.zero(S), c2c = FloatVector.zero(S);
        for (int k = 0; k < kc; k++) {
            FloatVector b0 = FloatVector.fromArray(S, b, bOff);
            FloatVector b1 = FloatVector.fromArray(S, b, bOff + L);
            FloatVector b2 = FloatVector.fromArray(S, b, bOff + 2 * L);
            FloatVector av = FloatVector.broadcast(S, a[aOff]);
            c0a = av.fma(b0, c0a);
            c0b = av.fma(b1, c0b);
            c0c = av.fma(b2, c0c);
            av = FloatVector.broadcast(S, a[aOff + 1]);
            c1a = av.fma(b0, c1a);
            c1b = av.fma(b1, c1b);
            c1c = av.fma(b2, c1c);
            av = FloatVector.broadcast(S, a[aOff + 2]);
            c2a = av.fma(b0, c2a);
            c2b = av.fma(b1, c2b);
            c2c = av.fma(b2, c2c);
            aOff += 3;
            bOff += 3 * L;
        }
        int w = 3 * L;
        c0a.intoArray(tile, tileOff);
        c0b.intoArray(tile, tileOff + L);
        c0c.intoArray(tile, tileOff + 2 * L);
        c1a.intoArray(tile, tileOff + w);
        c1b.intoArray(tile, tileOff + w + L);
        c1c.intoArray(tile, tileOff + w + 2 * L);
        c2a.intoArray(tile, tileOff + 2 * w);
        c2b.intoArray(tile, tileOff + 2 * w + L);
        c2c.intoArray(tile, tileOff + 2 * w + 2 * L);
        return 0f;
    }

    /** 4×(3 vectors) from the heap array: 12 accumulators + 3 B vectors + 4 hoisted broadcasts = 19; it spills (46 GF/s). */
    static float arrayBroadcast4x3(float[] a, int aOff, float[] b, int bOff, int kc) {
        FloatVector c0a = FloatVector.zero(S), c0b = FloatVector.zero(S), c0c = FloatVector.zero(S);
        FloatVector c1a = FloatVector.zero(S), c1b = FloatVector.zero(S), c1c = FloatVector.zero(S);
        FloatVector c2a = FloatVector.zero(S), c2b = FloatVector.zero(S), c2c = FloatVector.zero(S);
        FloatVector c3a = FloatVector.zero(S), c3b = FloatVector.zero(S), c3c = FloatVector.zero(S);
        for (int k = 0; k < kc; k++) {
            FloatVector b0 = FloatVector.fromArray(S, b, bOff);
            FloatVector b1 = FloatVector.fromArray(S, b, bOff + L);
            FloatVector b2 = FloatVector.fromArray(S, b, bOff + 2 * L);
            FloatVector a0 = FloatVector.broadcast(S, a[aOff + 0]);
            c0a = a0.fma(b0, c0a);
            c0b = a0.fma(b1, c0b);
            c0c = a0.fma(b2, c0c);
            FloatVector a1 = FloatVector.broadcast(S, a[aOff + 1]);
            c1a = a1.fma(b0, c1a);
            c1b = a1.fma(b1, c1b);
            c1c = a1.fma(b2, c1c);
            FloatVector a2 = FloatVector.broadcast(S, a[aOff + 2]);
            c2a = a2.fma(b0, c2a);
            c2b = a2.fma(b1, c2b);
            c2c = a2.fma(b2, c2c);
            FloatVector a3 = FloatVector.broadcast(S, a[aOff + 3]);
            c3a = a3.fma(b0, c3a);
            c3b = a3.fma(b1, c3b);
            c3c = a3.fma(b2, c3c);
            aOff += 4;
            bOff += 3 * L;
        }
        return c0a.add(c1a).add(c2a).add(c3a).add(c0b).add(c1b).add(c2b).add(c3b).add(c0c).add(c1c).add(c2c).add(c3c)
                .reduceLanes(VectorOperators.ADD);
    }

    /**
     * 6×NR from the array, each multiply-add reading its B vector itself (at an offset of a zero
     * C2 cannot see), so that the load folds into the instruction and no B vector holds a
     * register: 12 accumulators + the broadcasts.
     */
    static float arrayBroadcast6FoldedB(float[] a, int aOff, float[] b, int bOff, int kc, int[] zeros) {
        int z0 = zeros[0];
        int z1 = zeros[1];
        int z2 = zeros[2];
        int z3 = zeros[3];
        int z4 = zeros[4];
        int z5 = zeros[5];
        FloatVector c0a = FloatVector.zero(S), c0b = FloatVector.zero(S);
        FloatVector c1a = FloatVector.zero(S), c1b = FloatVector.zero(S);
        FloatVector c2a = FloatVector.zero(S), c2b = FloatVector.zero(S);
        FloatVector c3a = FloatVector.zero(S), c3b = FloatVector.zero(S);
        FloatVector c4a = FloatVector.zero(S), c4b = FloatVector.zero(S);
        FloatVector c5a = FloatVector.zero(S), c5b = FloatVector.zero(S);
        for (int k = 0; k < kc; k++) {
            FloatVector a0 = FloatVector.broadcast(S, a[aOff + 0]);
            c0a = a0.fma(FloatVector.fromArray(S, b, bOff + z0), c0a);
            c0b = a0.fma(FloatVector.fromArray(S, b, bOff + z0 + L), c0b);
            FloatVector a1 = FloatVector.broadcast(S, a[aOff + 1]);
            c1a = a1.fma(FloatVector.fromArray(S, b, bOff + z1), c1a);
            c1b = a1.fma(FloatVector.fromArray(S, b, bOff + z1 + L), c1b);
            FloatVector a2 = FloatVector.broadcast(S, a[aOff + 2]);
            c2a = a2.fma(FloatVector.fromArray(S, b, bOff + z2), c2a);
            c2b = a2.fma(FloatVector.fromArray(S, b, bOff + z2 + L), c2b);
            FloatVector a3 = FloatVector.broadcast(S, a[aOff + 3]);
            c3a = a3.fma(FloatVector.fromArray(S, b, bOff + z3), c3a);
            c3b = a3.fma(FloatVector.fromArray(S, b, bOff + z3 + L), c3b);
            FloatVector a4 = FloatVector.broadcast(S, a[aOff + 4]);
            c4a = a4.fma(FloatVector.fromArray(S, b, bOff + z4), c4a);
            c4b = a4.fma(FloatVector.fromArray(S, b, bOff + z4 + L), c4b);
            FloatVector a5 = FloatVector.broadcast(S, a[aOff + 5]);
            c5a = a5.fma(FloatVector.fromArray(S, b, bOff + z5), c5a);
            c5b = a5.fma(FloatVector.fromArray(S, b, bOff + z5 + L), c5b);
            aOff += 6;
            bOff += NR;
        }
        return c0a.add(c1a).add(c2a).add(c3a).add(c4a).add(c5a).add(c0b).add(c1b).add(c2b).add(c3b).add(c4b).add(c5b).reduceLanes(VectorOperators.ADD);
    }


    /** {@link #arrayBroadcast4} with A's offset as the loop's variable. */
    static float arrayBroadcast4ByA(float[] a, int aOff, float[] b, int bOff, int kc) {
        FloatVector c0a = FloatVector.zero(S), c0b = FloatVector.zero(S);
        FloatVector c1a = FloatVector.zero(S), c1b = FloatVector.zero(S);
        FloatVector c2a = FloatVector.zero(S), c2b = FloatVector.zero(S);
        FloatVector c3a = FloatVector.zero(S), c3b = FloatVector.zero(S);
        for (int end = aOff + 4 * kc; aOff < end; aOff += 4) {
            FloatVector b0 = FloatVector.fromArray(S, b, bOff);
            FloatVector b1 = FloatVector.fromArray(S, b, bOff + L);
            FloatVector a0 = FloatVector.broadcast(S, a[aOff + 0]);
            c0a = a0.fma(b0, c0a);
            c0b = a0.fma(b1, c0b);
            FloatVector a1 = FloatVector.broadcast(S, a[aOff + 1]);
            c1a = a1.fma(b0, c1a);
            c1b = a1.fma(b1, c1b);
            FloatVector a2 = FloatVector.broadcast(S, a[aOff + 2]);
            c2a = a2.fma(b0, c2a);
            c2b = a2.fma(b1, c2b);
            FloatVector a3 = FloatVector.broadcast(S, a[aOff + 3]);
            c3a = a3.fma(b0, c3a);
            c3b = a3.fma(b1, c3b);
            bOff += NR;
        }
        return c0a.add(c1a).add(c2a).add(c3a).add(c0b).add(c1b).add(c2b).add(c3b).reduceLanes(VectorOperators.ADD);
    }

    /** {@link #arrayBroadcast4} with B's offset as the loop's variable. */
    static float arrayBroadcast4ByB(float[] a, int aOff, float[] b, int bOff, int kc) {
        FloatVector c0a = FloatVector.zero(S), c0b = FloatVector.zero(S);
        FloatVector c1a = FloatVector.zero(S), c1b = FloatVector.zero(S);
        FloatVector c2a = FloatVector.zero(S), c2b = FloatVector.zero(S);
        FloatVector c3a = FloatVector.zero(S), c3b = FloatVector.zero(S);
        for (int end = bOff + NR * kc; bOff < end; bOff += NR) {
            FloatVector b0 = FloatVector.fromArray(S, b, bOff);
            FloatVector b1 = FloatVector.fromArray(S, b, bOff + L);
            FloatVector a0 = FloatVector.broadcast(S, a[aOff + 0]);
            c0a = a0.fma(b0, c0a);
            c0b = a0.fma(b1, c0b);
            FloatVector a1 = FloatVector.broadcast(S, a[aOff + 1]);
            c1a = a1.fma(b0, c1a);
            c1b = a1.fma(b1, c1b);
            FloatVector a2 = FloatVector.broadcast(S, a[aOff + 2]);
            c2a = a2.fma(b0, c2a);
            c2b = a2.fma(b1, c2b);
            FloatVector a3 = FloatVector.broadcast(S, a[aOff + 3]);
            c3a = a3.fma(b0, c3a);
            c3b = a3.fma(b1, c3b);
            aOff += 4;
        }
        return c0a.add(c1a).add(c2a).add(c3a).add(c0b).add(c1b).add(c2b).add(c3b).reduceLanes(VectorOperators.ADD);
    }


    /**
     * 4×NR from the array, two steps of k a turn, each multiply-add reading its B vector itself
     * (at offsets with zeros C2 cannot see, so that the loads fold into the multiply-adds): 8
     * accumulators + 8 hoisted broadcasts = 16 registers, no B vector held. {@code kc} even.
     */
    static float arrayBroadcast4x2FoldedB(float[] a, int aOff, float[] b, int bOff, int kc, int[] zeros) {
        int z0 = zeros[0];
        int z1 = zeros[1];
        int z2 = zeros[2];
        int z3 = zeros[3];
        int z4 = zeros[4];
        int z5 = zeros[5];
        FloatVector c0a = FloatVector.zero(S), c0b = FloatVector.zero(S);
        FloatVector c1a = FloatVector.zero(S), c1b = FloatVector.zero(S);
        FloatVector c2a = FloatVector.zero(S), c2b = FloatVector.zero(S);
        FloatVector c3a = FloatVector.zero(S), c3b = FloatVector.zero(S);
        for (int k = 0; k < kc; k += 2) {
            FloatVector a00 = FloatVector.broadcast(S, a[aOff + 0]);
            c0a = a00.fma(FloatVector.fromArray(S, b, bOff + 0 * NR + z0), c0a);
            c0b = a00.fma(FloatVector.fromArray(S, b, bOff + 0 * NR + L + z1), c0b);
            FloatVector a01 = FloatVector.broadcast(S, a[aOff + 1]);
            c1a = a01.fma(FloatVector.fromArray(S, b, bOff + 0 * NR + z2), c1a);
            c1b = a01.fma(FloatVector.fromArray(S, b, bOff + 0 * NR + L + z3), c1b);
            FloatVector a02 = FloatVector.broadcast(S, a[aOff + 2]);
            c2a = a02.fma(FloatVector.fromArray(S, b, bOff + 0 * NR + z4), c2a);
            c2b = a02.fma(FloatVector.fromArray(S, b, bOff + 0 * NR + L + z5), c2b);
            FloatVector a03 = FloatVector.broadcast(S, a[aOff + 3]);
            c3a = a03.fma(FloatVector.fromArray(S, b, bOff + 0 * NR + z0), c3a);
            c3b = a03.fma(FloatVector.fromArray(S, b, bOff + 0 * NR + L + z1), c3b);
            FloatVector a10 = FloatVector.broadcast(S, a[aOff + 4]);
            c0a = a10.fma(FloatVector.fromArray(S, b, bOff + 1 * NR + z0), c0a);
            c0b = a10.fma(FloatVector.fromArray(S, b, bOff + 1 * NR + L + z1), c0b);
            FloatVector a11 = FloatVector.broadcast(S, a[aOff + 5]);
            c1a = a11.fma(FloatVector.fromArray(S, b, bOff + 1 * NR + z2), c1a);
            c1b = a11.fma(FloatVector.fromArray(S, b, bOff + 1 * NR + L + z3), c1b);
            FloatVector a12 = FloatVector.broadcast(S, a[aOff + 6]);
            c2a = a12.fma(FloatVector.fromArray(S, b, bOff + 1 * NR + z4), c2a);
            c2b = a12.fma(FloatVector.fromArray(S, b, bOff + 1 * NR + L + z5), c2b);
            FloatVector a13 = FloatVector.broadcast(S, a[aOff + 7]);
            c3a = a13.fma(FloatVector.fromArray(S, b, bOff + 1 * NR + z0), c3a);
            c3b = a13.fma(FloatVector.fromArray(S, b, bOff + 1 * NR + L + z1), c3b);
            aOff += 8;
            bOff += 2 * NR;
        }
        return c0a.add(c1a).add(c2a).add(c3a).add(c0b).add(c1b).add(c2b).add(c3b).reduceLanes(VectorOperators.ADD);
    }

    /** 6×NR with A packed pre-broadcast: a[(k·6 + r)·L + lane] = A[r][k] for every lane. */
    static float preBroadcast6(float[] a, int aOff, float[] b, int bOff, int kc) {
        FloatVector c0a = FloatVector.zero(S), c0b = FloatVector.zero(S);
        FloatVector c1a = FloatVector.zero(S), c1b = FloatVector.zero(S);
        FloatVector c2a = FloatVector.zero(S), c2b = FloatVector.zero(S);
        FloatVector c3a = FloatVector.zero(S), c3b = FloatVector.zero(S);
        FloatVector c4a = FloatVector.zero(S), c4b = FloatVector.zero(S);
        FloatVector c5a = FloatVector.zero(S), c5b = FloatVector.zero(S);
        for (int k = 0; k < kc; k++) {
            FloatVector b0 = FloatVector.fromArray(S, b, bOff);
            FloatVector b1 = FloatVector.fromArray(S, b, bOff + L);
            FloatVector a0 = FloatVector.fromArray(S, a, aOff + 0 * L);
            c0a = a0.fma(b0, c0a);
            c0b = a0.fma(b1, c0b);
            FloatVector a1 = FloatVector.fromArray(S, a, aOff + 1 * L);
            c1a = a1.fma(b0, c1a);
            c1b = a1.fma(b1, c1b);
            FloatVector a2 = FloatVector.fromArray(S, a, aOff + 2 * L);
            c2a = a2.fma(b0, c2a);
            c2b = a2.fma(b1, c2b);
            FloatVector a3 = FloatVector.fromArray(S, a, aOff + 3 * L);
            c3a = a3.fma(b0, c3a);
            c3b = a3.fma(b1, c3b);
            FloatVector a4 = FloatVector.fromArray(S, a, aOff + 4 * L);
            c4a = a4.fma(b0, c4a);
            c4b = a4.fma(b1, c4b);
            FloatVector a5 = FloatVector.fromArray(S, a, aOff + 5 * L);
            c5a = a5.fma(b0, c5a);
            c5b = a5.fma(b1, c5b);
            aOff += 6 * L;
            bOff += NR;
        }
        return c0a.add(c1a).add(c2a).add(c3a).add(c4a).add(c5a).add(c0b).add(c1b).add(c2b).add(c3b).add(c4b).add(c5b).reduceLanes(VectorOperators.ADD);
    }

    /** The best of six 0.4 s rounds of two A panels × four B panels, in GF/s. */
    static void time(String name, int rows, Call call) {
        time(name, rows, NR, call);
    }

    /** {@link #time(String, int, Call)} for a tile {@code cols} wide. */
    static void time(String name, int rows, int cols, Call call) {
        time(name, rows, cols, KC, call);
    }

    /**
     * Only the variants whose names hold one of these texts (the first argument, split at '|'),
     * and the engine's kernel; all when empty.
     */
    static String[] only = {""};

    /** {@link #time(String, int, int, Call)} for calls of {@code steps} steps of k. */
    static void time(String name, int rows, int cols, int steps, Call call) {
        if (!name.startsWith("GemmKernel") && java.util.Arrays.stream(only).noneMatch(name::contains)) {
            return;
        }
        double best = 0;
        double bytesPerCall = 0;
        float sink = 0;
        for (int round = 0; round < 6; round++) {
            long calls = 0;
            long bytes = ALLOCATED.getCurrentThreadAllocatedBytes();
            long t0 = System.nanoTime();
            while (System.nanoTime() - t0 < 400_000_000L) {
                for (int p = 0; p < 2; p++) {
                    for (int q = 0; q < 4; q++) {
                        sink += call.run(p, q);
                        calls++;
                    }
                }
            }
            best = Math.max(best, 2.0 * rows * cols * steps * calls / ((System.nanoTime() - t0) / 1e9) / 1e9);
            bytesPerCall = (ALLOCATED.getCurrentThreadAllocatedBytes() - bytes) / (double) calls;
        }
        // The last round's heap bytes per call: anything but 0 means C2 left vectors boxed.
        System.out.printf("  %-44s %6.1f GF/s %8.0f B/call%s%n", name, best, bytesPerCall, sink == 42 ? " " : "");
    }

    public static void main(String[] args) {
        only = args.length > 0 ? args[0].split("\\|") : new String[] {""};
        float[] a = new float[KC * 12 * L * 2];
        float[] b = new float[KC * NR * 4];
        java.util.Random random = new java.util.Random(1);
        for (int i = 0; i < a.length; i++) {
            a[i] = random.nextFloat();
        }
        for (int i = 0; i < b.length; i++) {
            b[i] = random.nextFloat();
        }
        APanels panels = new APanels();
        panels.ensure(a.length);
        System.arraycopy(a, 0, panels.floats(), 0, a.length);
        MemorySegment view = MemorySegment.ofArray(a);
        float[] tile = new float[12 * NR];
        int mr = GemmKernel.MR;
        System.out.printf("%d-bit vectors, %d registers:%n", S.vectorBitSize(), GemmKernel.REGISTERS);
        time("GemmKernel.kernel, " + mr + "×" + NR + " (this machine's tile)", mr,
                (p, q) -> GemmKernel.kernel(panels, p * KC * mr, b, q * KC * NR, KC, tile, 0, b, q * KC * NR));
        for (int rows : new int[] {6, 12}) {
            Call array = rows == 6
                    ? (p, q) -> arrayBroadcast6(a, p * KC * 6, b, q * KC * NR, KC)
                    : (p, q) -> arrayBroadcast12(a, p * KC * 12, b, q * KC * NR, KC);
            Call segment = rows == 6
                    ? (p, q) -> segmentBroadcast6(view, 4L * p * KC * 6, b, q * KC * NR, KC)
                    : (p, q) -> segmentBroadcast12(view, 4L * p * KC * 12, b, q * KC * NR, KC);
            time(rows + "×" + NR + ", broadcast from the array", rows, array);
            time(rows + "×" + NR + ", broadcast through a segment", rows, segment);
        }
        time("6×" + NR + ", A packed pre-broadcast", 6, (p, q) -> preBroadcast6(a, p * KC * 6 * L, b, q * KC * NR, KC));
        time("6×" + NR + ", through a segment, k unrolled by 2", 6, (p, q) -> segmentBroadcast6x2k(view, 4L * p * KC * 6, b, q * KC * NR, KC));
        time("6×" + NR + ", through a segment, k unrolled by 3", 6, NR, KC - 1, (p, q) -> segmentBroadcast6x3k(view, 4L * p * KC * 6, b, q * KC * NR, KC - 1));
        time("6×" + NR + ", through a segment, k unrolled by 4", 6, (p, q) -> segmentBroadcast6x4k(view, 4L * p * KC * 6, b, q * KC * NR, KC));
        time("6×" + NR + ", array, indices linear in k", 6, (p, q) -> arrayLinear6(a, p * KC * 6, b, q * KC * NR, KC));
        time("6×" + NR + ", segment, offsets linear in k", 6, (p, q) -> segmentLinear6(view, 4L * p * KC * 6, b, q * KC * NR, KC));
        time("5×" + NR + ", broadcast through a segment", 5, (p, q) -> segmentBroadcast5(view, 4L * p * KC * 5, b, q * KC * NR, KC));
        time("5×" + NR + ", broadcast from the array", 5, (p, q) -> arrayBroadcast5(a, p * KC * 5, b, q * KC * NR, KC));
        time("4×" + NR + ", broadcast from the array", 4, (p, q) -> arrayBroadcast4(a, p * KC * 4, b, q * KC * NR, KC));
        time("4×" + NR + ", array, loop over A's offset", 4, (p, q) -> arrayBroadcast4ByA(a, p * KC * 4, b, q * KC * NR, KC));
        time("4×" + NR + ", array, loop over B's offset", 4, (p, q) -> arrayBroadcast4ByB(a, p * KC * 4, b, q * KC * NR, KC));
        int[] zeros = new int[6];
        time("4×" + NR + ", array, 2 steps, B loads folded", 4, (p, q) -> arrayBroadcast4x2FoldedB(a, p * KC * 4, b, q * KC * NR, KC, zeros));
        time("6×" + NR + ", array, B loads folded", 6, (p, q) -> arrayBroadcast6FoldedB(a, p * KC * 6, b, q * KC * NR, KC, zeros));
        float[] b3 = new float[KC * 3 * L * 4];
        System.arraycopy(b, 0, b3, 0, Math.min(b.length, b3.length));
        time("4×" + 3 * L + ", broadcast through a segment", 4, 3 * L,
                (p, q) -> segmentBroadcast4x3(view, 4L * p * KC * 4, b3, q * KC * 3 * L, KC));
        time("3×" + 3 * L + ", from the array into a tile", 3, 3 * L,
                (p, q) -> tileRows3x3(a, p * KC * 3, b3, q * KC * 3 * L, KC, tile, 0));
        time("4×" + 3 * L + ", broadcast from the array", 4, 3 * L,
                (p, q) -> arrayBroadcast4x3(a, p * KC * 4, b3, q * KC * 3 * L, KC));
    }
}
