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
 * rows; and GemmKernel's own kernel for this machine's tile. In the engine's package, on the
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
        double best = 0;
        float sink = 0;
        for (int round = 0; round < 6; round++) {
            long calls = 0;
            long t0 = System.nanoTime();
            while (System.nanoTime() - t0 < 400_000_000L) {
                for (int p = 0; p < 2; p++) {
                    for (int q = 0; q < 4; q++) {
                        sink += call.run(p, q);
                        calls++;
                    }
                }
            }
            best = Math.max(best, 2.0 * rows * NR * KC * calls / ((System.nanoTime() - t0) / 1e9) / 1e9);
        }
        System.out.printf("  %-44s %6.1f GF/s%s%n", name, best, sink == 42 ? " " : "");
    }

    public static void main(String[] args) {
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
    }
}
