package org.tessera.engine.cpu;

import static org.tessera.engine.cpu.GemmKernel.MR;
import static org.tessera.engine.cpu.GemmKernel.NR;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.tessera.engine.backend.Activation;
import org.tessera.engine.parallel.WorkerPool;

/**
 * One GEMM call, blocked the BLIS way and run on a {@link WorkerPool}.
 *
 * <pre>
 * for pc in K by KC:                      B block [KC × N]: pre-packed, or packed now (parallel)
 *   for ic in M by MC:                    pack A block [MC × KC] once, shared (parallel)
 *     parallel over (jr panels × ir panels):
 *       kernel(A panel ir, B panel jr)    B micro-panel stays in L1 across ir; A block in L2
 * </pre>
 *
 * <p>One instance per calling thread is reused for every call, buffers included, so the hot
 * path allocates nothing. The first K block applies the caller's β, later ones accumulate
 * (β = 1), and the last one runs the epilogue on each tile right after computing it.
 */
final class GemmJob implements WorkerPool.Task {
    /** K block: a B micro-panel of KC×NR floats (32 KiB on AVX-512) stays in L1. */
    static final int KC = Integer.getInteger("tessera.gemm.kc", 256);
    /**
     * Largest M block: an A block of MC×KC floats (516 KiB) stays in L2 (2 MiB per core here).
     * M is cut into equal blocks of at most MC rows, so DiT's M = 512 (batch 2 × 256 tokens) is
     * one block rather than 384 + 128: each block costs two pool barriers (see docs/benchmarks.md).
     */
    static final int MC = Integer.getInteger("tessera.gemm.mc", 516) / GemmKernel.MR * GemmKernel.MR;

    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;
    /** Per executing thread: the register tile's landing place (see GemmKernel.kernel). */
    private static final ThreadLocal<float[]> TILE = ThreadLocal.withInitial(() -> new float[MR * NR]);

    private enum Phase { PACK_A, PACK_B, COMPUTE }

    // Operands of the current call.
    private int m;
    private int n;
    private int k;
    private MemorySegment aSeg;
    private long aBase;
    private long aRs;
    private long aCs;
    private MemorySegment bSeg;
    private long bBase;
    private long bRs;
    private long bCs;
    private MemorySegment cSeg;
    private long cBase;
    private long ldc;
    private float alpha;
    private float beta;
    private MemorySegment biasSeg;
    private long biasOff;
    private Activation activation;

    // Packed operands: B panels either from a CpuPackedMatrix (stride K·NR between panels) or
    // from bBuf for the current K block (stride kc·NR).
    private float[] bPanels;
    private int bPanelStride;
    private int bBlockOff;
    private float[] bBuf = new float[0];
    private float[] aBuf = new float[0];

    // Current block.
    private Phase phase;
    private int pc;
    private int kc;
    private int ic;
    private int mc;
    private int jPanels;
    private int iPanels;
    private int jChunks;
    private int iChunks;
    private int aTasks;
    private boolean firstK;
    private boolean lastK;

    void setA(MemorySegment seg, long base, long rs, long cs) {
        aSeg = seg;
        aBase = base;
        aRs = rs;
        aCs = cs;
    }

    void setB(MemorySegment seg, long base, long rs, long cs) {
        bSeg = seg;
        bBase = base;
        bRs = rs;
        bCs = cs;
    }

    void setC(MemorySegment seg, long baseBytes, long ldcBytes) {
        cSeg = seg;
        cBase = baseBytes;
        ldc = ldcBytes;
    }

    void setEpilogue(MemorySegment bias, long biasOffBytes, Activation act) {
        biasSeg = bias;
        biasOff = biasOffBytes;
        activation = act;
    }

    /** Runs C = epilogue(alpha·A·B + beta·C); {@code packed} is null to pack B per K block. */
    void run(WorkerPool pool, int m, int n, int k, float alpha, float beta, CpuPackedMatrix packed) {
        this.m = m;
        this.n = n;
        this.k = k;
        this.alpha = alpha;
        this.beta = beta;
        jPanels = (n + NR - 1) / NR;
        int threads = pool.threads();
        int target = threads == 1 ? 1 : 4 * threads;
        jChunks = Math.min(jPanels, target);
        if (packed != null) {
            bPanels = packed.panels();
            bPanelStride = k * NR;
        } else {
            int need = kcStep(k) * NR * jPanels;
            if (bBuf.length < need) {
                bBuf = new float[need];
            }
            bPanels = bBuf;
        }
        // Equal M blocks: ceil(m / MC) of them, each a whole number of register tiles.
        int mBlocks = Math.max(1, (m + MC - 1) / MC);
        int mcStep = roundUp((m + mBlocks - 1) / mBlocks, MR);
        int needA = Math.min(mcStep, roundUp(m, MR)) * kcStep(k);
        if (aBuf.length < needA) {
            aBuf = new float[needA];
        }
        if (k == 0) {
            // An empty product: C = beta·C, then the epilogue.
            scaleOnly(pool);
            return;
        }
        int kcStep = kcStep(k);
        for (pc = 0; pc < k; pc += kcStep) {
            kc = Math.min(kcStep, k - pc);
            firstK = pc == 0;
            lastK = pc + kc == k;
            if (packed != null) {
                bBlockOff = pc * NR;
            } else {
                bPanelStride = kc * NR;
                bBlockOff = 0;
                phase = Phase.PACK_B;
                pool.run(jChunks, this);
            }
            for (ic = 0; ic < m; ic += mcStep) {
                mc = Math.min(mcStep, m - ic);
                iPanels = (mc + MR - 1) / MR;
                aTasks = Math.min(iPanels, target);
                phase = Phase.PACK_A;
                pool.run(aTasks, this);
                iChunks = Math.min(iPanels, Math.max(1, target / jChunks));
                phase = Phase.COMPUTE;
                pool.run(jChunks * iChunks, this);
            }
        }
        bPanels = null;
        aSeg = bSeg = cSeg = biasSeg = null;
    }

    @Override
    public void run(int task) {
        switch (phase) {
            case PACK_B -> packB(task);
            case PACK_A -> packA(task);
            case COMPUTE -> compute(task);
        }
    }

    private void packB(int task) {
        int from = chunkStart(task, jChunks, jPanels);
        int to = chunkStart(task + 1, jChunks, jPanels);
        for (int p = from; p < to; p++) {
            int j0 = p * NR;
            GemmKernel.packB(bSeg, bBase, bRs, bCs, pc, kc, j0, Math.min(NR, n - j0), bBuf, p * bPanelStride);
        }
    }

    private void packA(int task) {
        int from = chunkStart(task, aTasks, iPanels);
        int to = chunkStart(task + 1, aTasks, iPanels);
        for (int p = from; p < to; p++) {
            int i0 = ic + p * MR;
            GemmKernel.packA(aSeg, aBase, aRs, aCs, i0, Math.min(MR, m - i0), pc, kc, aBuf, p * MR * kc);
        }
    }

    private void compute(int task) {
        int jt = task / iChunks;
        int it = task % iChunks;
        int jFrom = chunkStart(jt, jChunks, jPanels);
        int jTo = chunkStart(jt + 1, jChunks, jPanels);
        int iFrom = chunkStart(it, iChunks, iPanels);
        int iTo = chunkStart(it + 1, iChunks, iPanels);
        float betaNow = firstK ? beta : 1f;
        boolean epilogue = lastK && (biasSeg != null || activation != Activation.NONE);
        float[] tile = TILE.get();
        for (int jp = jFrom; jp < jTo; jp++) {
            int j0 = jp * NR;
            int nr = Math.min(NR, n - j0);
            int bOff = jp * bPanelStride + bBlockOff;
            for (int ip = iFrom; ip < iTo; ip++) {
                int i0 = ic + ip * MR;
                int mr = Math.min(MR, m - i0);
                long cOff = cBase + i0 * ldc + 4L * j0;
                GemmKernel.kernel(aBuf, ip * MR * kc, bPanels, bOff, kc, tile);
                GemmKernel.mergeTile(tile, mr, nr, cSeg, cOff, ldc, alpha, betaNow);
                if (epilogue) {
                    Epilogues.apply(cSeg, cOff, ldc, mr, nr, biasSeg, biasOff + 4L * j0, activation);
                }
            }
        }
    }

    private void scaleOnly(WorkerPool pool) {
        for (int i = 0; i < m; i++) {
            long row = cBase + i * ldc;
            for (int j = 0; j < n; j++) {
                float v = beta == 0f ? 0f : beta * cSeg.get(F, row + 4L * j);
                cSeg.set(F, row + 4L * j, v);
            }
            if (biasSeg != null || activation != Activation.NONE) {
                Epilogues.apply(cSeg, row, ldc, 1, n, biasSeg, biasOff, activation);
            }
        }
    }

    /** Start of chunk {@code c} when {@code total} items are split into {@code chunks} near-equal runs. */
    private static int chunkStart(int c, int chunks, int total) {
        return (int) ((long) c * total / chunks);
    }

    /**
     * Equal K blocks of at most KC: K = 1152 is 3 × 384 when KC = 384, not 256 × 4 + 128. Every
     * block costs a pass over C (the register tiles are merged into C once per block).
     */
    static int kcStep(int k) {
        int blocks = Math.max(1, (k + KC - 1) / KC);
        return Math.max(1, (k + blocks - 1) / blocks);
    }

    private static int roundUp(int x, int to) {
        return (x + to - 1) / to * to;
    }
}
