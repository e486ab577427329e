package org.tessera.engine.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Why the GEMM runs at half speed under AVX2 (issue 18): the register kernel alone, on panels in
 * L1/L2, as GemmKernel has it (each A value broadcast per step) and with A packed pre-broadcast
 * (each value already replicated across a vector, so a step is plain vector loads and FMAs).
 * In the engine's package, on the class path, to reach the package-private kernel.
 *
 *   bench/kernel-broadcast.sh            # under -XX:UseAVX=2, then the machine's own width
 */
public final class KernelBroadcast {
    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    static final int L = S.length();
    static final int NR = 2 * L;

    /**
     * The 6×NR kernel with A pre-broadcast: a[(k·6 + r)·L + lane] = A[r][k] for every lane. Its
     * accumulators are summed into the tile (the timing does not need the tile itself).
     */
    static float kernelPre(float[] a, int aOff, float[] b, int bOff, int kc, float[] tile) {
        FloatVector c0a = FloatVector.zero(S), c0b = FloatVector.zero(S);
        FloatVector c1a = FloatVector.zero(S), c1b = FloatVector.zero(S);
        FloatVector c2a = FloatVector.zero(S), c2b = FloatVector.zero(S);
        FloatVector c3a = FloatVector.zero(S), c3b = FloatVector.zero(S);
        FloatVector c4a = FloatVector.zero(S), c4b = FloatVector.zero(S);
        FloatVector c5a = FloatVector.zero(S), c5b = FloatVector.zero(S);
        for (int k = 0; k < kc; k++) {
            FloatVector b0 = FloatVector.fromArray(S, b, bOff);
            FloatVector b1 = FloatVector.fromArray(S, b, bOff + L);
            FloatVector av = FloatVector.fromArray(S, a, aOff);
            c0a = av.fma(b0, c0a); c0b = av.fma(b1, c0b);
            av = FloatVector.fromArray(S, a, aOff + L);
            c1a = av.fma(b0, c1a); c1b = av.fma(b1, c1b);
            av = FloatVector.fromArray(S, a, aOff + 2 * L);
            c2a = av.fma(b0, c2a); c2b = av.fma(b1, c2b);
            av = FloatVector.fromArray(S, a, aOff + 3 * L);
            c3a = av.fma(b0, c3a); c3b = av.fma(b1, c3b);
            av = FloatVector.fromArray(S, a, aOff + 4 * L);
            c4a = av.fma(b0, c4a); c4b = av.fma(b1, c4b);
            av = FloatVector.fromArray(S, a, aOff + 5 * L);
            c5a = av.fma(b0, c5a); c5b = av.fma(b1, c5b);
            aOff += 6 * L;
            bOff += NR;
        }
        c0a.add(c0b).add(c1a).add(c1b).add(c2a).add(c2b).add(c3a).add(c3b).add(c4a).add(c4b).add(c5a).add(c5b).intoArray(tile, 0);
        return tile[0];
    }

    public static void main(String[] args) {
        int kc = 256;
        int mr = GemmKernel.MR;
        float[] a = new float[kc * Math.max(mr, 6 * L) * 8];
        float[] b = new float[kc * NR * 4];
        float[] tile = new float[Math.max(mr, 6) * NR];
        java.util.Random r = new java.util.Random(1);
        for (int i = 0; i < a.length; i++) {
            a[i] = r.nextFloat();
        }
        for (int i = 0; i < b.length; i++) {
            b[i] = r.nextFloat();
        }
        float sink = 0;
        double best = 0;
        double bestPre = 0;
        for (int rep = 0; rep < 6; rep++) { // the best of 6 half-second rounds each, after warming up
            long calls = 0;
            long t0 = System.nanoTime();
            while (System.nanoTime() - t0 < 500_000_000L) {
                for (int p = 0; p < 8; p++) {
                    for (int q = 0; q < 4; q++) {
                        sink += GemmKernel.kernel(a, p * kc * mr, b, q * kc * NR, kc, tile, 0, b, q * kc * NR);
                        calls++;
                    }
                }
            }
            best = Math.max(best, 2.0 * mr * NR * kc * calls / ((System.nanoTime() - t0) / 1e9) / 1e9);
            calls = 0;
            t0 = System.nanoTime();
            while (System.nanoTime() - t0 < 500_000_000L) {
                for (int p = 0; p < 2; p++) {
                    for (int q = 0; q < 4; q++) {
                        sink += kernelPre(a, p * kc * 6 * L, b, q * kc * NR, kc, tile);
                        calls++;
                    }
                }
            }
            bestPre = Math.max(bestPre, 2.0 * 6 * NR * kc * calls / ((System.nanoTime() - t0) / 1e9) / 1e9);
        }
        System.out.printf("%d-bit vectors: GemmKernel %d×%d, broadcasting A: %.1f GF/s;"
                + " 6×%d with A pre-broadcast: %.1f GF/s%s%n", S.vectorBitSize(), mr, NR, best, NR, bestPre,
                sink == 42 ? " " : "");
    }
}
