package org.tessera.engine.cpu;

import static org.tessera.engine.cpu.GemmKernel.MR;
import static org.tessera.engine.cpu.GemmKernel.NR;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.tessera.engine.backend.Activation;
import org.tessera.engine.parallel.WorkerPool;

/**
 * One GEMM call, blocked the BLIS way and run on a {@link WorkerPool} in two phases.
 *
 * <pre>
 * phase 1, parallel: pack all of A, K block by K block, in MR-row micro-panels
 *          (and all of B when it is packed in the call and several M blocks share its panels)
 * phase 2, parallel over chunks = (M block ≤ MC rows) × (run of B's NR-column panels), each on its own:
 *   for pc in K by KC:                    B block [KC × run]: pre-packed, or packed now by the chunk
 *     for jr in run, ir in the M block:   A block [MC × KC] (packed in phase 1) stays in L2
 *       kernel(A panel ir, B panel jr)    B micro-panel stays in L1 across ir
 * </pre>
 *
 * <p>Why this shape: a chunk owns its slice of C for the whole call, so the chunks never wait
 * on each other. Blocking every (K, M) block across the threads instead cost two pool barriers
 * per block (ten per DiT product) and measured 15–30% below OpenBLAS on two threads
 * (docs/benchmarks.md). Packing all of A up front, once, is what lets the chunks share it.
 *
 * <p>One instance per calling thread is reused for every call, buffers included, so the hot
 * path allocates nothing. The first K block applies the caller's β, later ones accumulate
 * (β = 1), and the last one runs the epilogue on each tile right after computing it.
 */
final class GemmJob implements WorkerPool.Task {
    /**
     * A B operand that is computed as it is packed rather than read from a matrix: a
     * convolution's im2col ({@link Im2colPanels}). Called concurrently by the chunks.
     */
    interface PanelSource {
        /**
         * Packs rows [k0, k0 + kc) of the micro-panels [pFrom, pTo) of an n-column B: panel p's
         * row k goes to {@code dstOff + (p − pFrom)·panelStride + (k − k0)·NR}, its columns past
         * n zero.
         */
        void pack(int k0, int kc, int pFrom, int pTo, int n, float[] dst, int dstOff, int panelStride);
    }

    /** K block: a B micro-panel of KC×NR floats (32 KiB on AVX-512) stays in L1. */
    static final int KC = Integer.getInteger("tessera.gemm.kc", 256);
    /**
     * K block when B is pre-packed (weights): KC, except with the 4-row tile, whose K blocks
     * grow to half of L2 ({@link GemmTile#prepackedKc}); {@code -Dtessera.gemm.kc.prepacked} sets it.
     */
    static final int KC_PREPACKED =
            Integer.getInteger("tessera.gemm.kc.prepacked", GemmTile.prepackedKc(MR, NR, KC, GemmTile.l2Bytes()));
    /**
     * Largest M block: an A block of MC×KC floats (516 KiB) stays in L2 (2 MiB per core here).
     * M is cut into equal blocks of at most MC rows, so DiT's M = 512 (batch 2 × 256 tokens) is
     * one block rather than 384 + 128.
     */
    static final int MC = Integer.getInteger("tessera.gemm.mc", 516) / GemmKernel.MR * GemmKernel.MR;
    /** Chunks per thread when there are several threads: enough for the pool's ticket to even out a slow one. */
    private static final int CHUNKS_PER_THREAD = Integer.getInteger("tessera.gemm.chunks", 4);
    /**
     * Most bytes of C in one chunk. A chunk's slice of C is read back once per K block; under
     * about half of L2 it is still there. 2048³ on one thread, in one chunk (16 MiB of C), spent
     * ~10% of its time waiting for those reads (measured by skipping them); in 1 MiB chunks it
     * ran 5–13% faster in one comparison, within the noise in another. DiT's shapes do not care.
     */
    private static final long CHUNK_C_BYTES = 1L << 20;
    /**
     * Fewest B panels in a chunk that packs its own B (12 panels: 1.5 KiB of each row of B). Such
     * a chunk reads its strip of B row by row, and each row segment costs about one memory
     * latency whatever its length: the prefetcher needs a few lines of a page before it runs
     * ahead. At 256×4608×1152 on two threads, strips of 4–5 panels (8 chunks) packed per call ran
     * at 0.89 of the pre-packed rate and strips of 18 (2 chunks) at 0.95–1.03, interleaved call by
     * call in one JVM; wide shapes (3456 columns) already have strips of 13 or more.
     */
    private static final int MIN_STRIP_PANELS = 12;
    /**
     * Most floats of packed A per pass over M, and of B packed whole in a call (64 MiB each).
     * Bounds the per-thread buffers whatever the shape (a 3×3 convolution over a large image
     * has N in the millions); DiT's products (A at most 512 × 4608) fit in one pass.
     */
    private static final long PASS_FLOATS = 1L << 24;

    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;

    private enum Phase {
        PACK_A,
        PACK_B,
        COMPUTE
    }

    /** Per executing thread: the register tile's landing place (see GemmKernel.kernel). */
    private static final ThreadLocal<float[]> TILE = ThreadLocal.withInitial(() -> new float[MR * NR]);
    /** Per executing thread: a chunk's tiles, carried from one K block to the next. */
    private static final ThreadLocal<float[]> CARRIED = ThreadLocal.withInitial(() -> new float[0]);

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
    private PanelSource bSource;
    private MemorySegment rowBiasSeg;
    private long rowBiasOff;

    // Packed B. Panel p's K block starting at row pc is at p·bPanelStride + pc·bRowStep: for a
    // CpuPackedMatrix, and for all of B packed up front into bBuf, the stride is K·NR and the step
    // NR; when each chunk packs its panels one K block at a time, bBuf holds one block per panel
    // (stride kcStep·NR, step 0), rewritten for every block.
    private float[] bPanels;
    private int bPanelStride;
    private int bRowStep;
    private float[] bBuf = new float[0];
    // A for the rows of the current pass: K block kb (rows pc = kb·kcStep) starts at
    // pc·passPadded; within it, the micro-panel of rows [r0 + q·MR, r0 + q·MR + MR) is at q·MR·kc.
    private final APanels aBuf = new APanels();
    private int passPadded;

    // The call's blocking.
    private int kcStep;
    private int kBlocks;
    private int mcStep;
    private int jPanels;
    private int jChunks;
    private int target;
    /** Where the prefetching reads' sum goes, so that the JIT keeps them. */
    private float touchSink;

    private Phase phase;
    private boolean packAInChunk;
    private boolean packBInChunk;
    // The current pass: rows [r0, r1), in mBlocks blocks of mcStep.
    private int r0;
    private int r1;
    private int mBlocks;
    private int passPanels;
    private int aChunks;
    private int bChunks;

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

    /** B computed as it is packed (instead of {@link #setB}), for this call only. */
    void setB(PanelSource source) {
        bSource = source;
    }

    /** A bias per row of C (a convolution's per-channel bias), added as each tile is finished. */
    void setRowBias(MemorySegment seg, long offBytes) {
        rowBiasSeg = seg;
        rowBiasOff = offBytes;
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

    /** Runs C = epilogue(alpha·A·B + beta·C); {@code packed} is null to pack B in the call. */
    void run(WorkerPool pool, int m, int n, int k, float alpha, float beta, CpuPackedMatrix packed) {
        this.m = m;
        this.n = n;
        this.k = k;
        this.alpha = alpha;
        this.beta = beta;
        if (m == 0 || n == 0) {
            clearOperands();
            return;
        }
        if (k == 0) {
            // An empty product: C = beta·C, then the epilogue.
            scaleOnly();
            clearOperands();
            return;
        }
        int threads = pool.threads();
        jPanels = (n + NR - 1) / NR;
        int iPanels = (m + MR - 1) / MR;
        kcStep = kcStep(k, packed != null ? KC_PREPACKED : KC);
        kBlocks = (k + kcStep - 1) / kcStep;
        // Chunks: (M block, run of B panels) pairs, enough for the threads and for C's slices to
        // stay under CHUNK_C_BYTES. A chunk keeps to one M block, so with several (2048³) its A
        // block is reused across all its panels, and so that a narrow N (DiT's final layer,
        // N = 32: one panel) still gives every thread rows of its own.
        long cBytes = 4L * m * jPanels * NR;
        int byCache = (int) Math.min((long) iPanels * jPanels, (cBytes + CHUNK_C_BYTES - 1) / CHUNK_C_BYTES);
        target = Math.max(threads == 1 ? 1 : CHUNKS_PER_THREAD * threads, byCache);
        int blocks = Math.max((m + MC - 1) / MC, Math.min(iPanels, (target + jPanels - 1) / jPanels));
        mcStep = roundUp((m + blocks - 1) / blocks, MR); // equal M blocks, whole register tiles

        // Rows per pass, so the buffers stay bounded whatever the shape: all of M when A fits
        // PASS_FLOATS packed. B packed in the call goes up front, whole, when a pass has several
        // M blocks and it fits; otherwise each pass is one M block and its chunks pack their own
        // panels one K block at a time.
        int rowsForA = (int) Math.max(mcStep, Math.min(m, PASS_FLOATS / k / mcStep * mcStep));
        boolean packBNow = packed == null;
        boolean wholeB = packBNow && (long) jPanels * NR * k <= PASS_FLOATS;
        int passRows = packBNow && !wholeB ? mcStep : rowsForA;
        // Several M blocks in a pass share B's panels: then B is packed whole, before the chunks.
        packBInChunk = packBNow && !(wholeB && passRows > mcStep);
        if (packBNow) {
            bPanelStride = packBInChunk ? kcStep * NR : k * NR;
            bRowStep = packBInChunk ? 0 : NR;
            int need = Math.multiplyExact(jPanels, bPanelStride);
            if (bBuf.length < need) {
                bBuf = new float[need];
            }
            bPanels = bBuf;
        } else {
            bPanels = packed.panels();
            bPanelStride = k * NR;
            bRowStep = NR;
        }
        aBuf.ensure(Math.multiplyExact(roundUp(Math.min(m, passRows), MR), k));
        for (r0 = 0; r0 < m; r0 += passRows) {
            r1 = Math.min(m, r0 + passRows);
            pass(pool, packBNow);
        }
        clearOperands();
    }

    /** Rows [r0, r1) of C: pack what the chunks share, then run the chunks. */
    private void pass(WorkerPool pool, boolean packBNow) {
        passPanels = (r1 - r0 + MR - 1) / MR;
        passPadded = passPanels * MR;
        mBlocks = (r1 - r0 + mcStep - 1) / mcStep;
        jChunks = Math.min(jPanels, (target + mBlocks - 1) / mBlocks);
        if (packBInChunk && jPanels / jChunks < MIN_STRIP_PANELS) {
            // Wider strips, in a multiple of the threads so that none idles at the end, at least
            // one strip per thread however narrow, and still enough of them for each slice of C
            // to stay under CHUNK_C_BYTES (512×1152×1152 takes 4 strips of 9, not 2 of 18).
            int threads = pool.threads();
            int wide = Math.max(threads, jPanels / MIN_STRIP_PANELS / threads * threads);
            long passC = 4L * (r1 - r0) * jPanels * NR;
            int byCache = roundUp((int) ((passC + CHUNK_C_BYTES - 1) / CHUNK_C_BYTES), threads);
            jChunks = Math.min(jChunks, Math.max(wide, byCache));
        }
        int chunks = mBlocks * jChunks;
        // With one chunk there is nobody to share A with: pack each block right before its use,
        // while it is still in L2, rather than all of the pass's rows up front.
        packAInChunk = chunks == 1;
        if (!packAInChunk) {
            aChunks = Math.min(kBlocks * passPanels, target);
            phase = Phase.PACK_A;
            pool.run(aChunks, this);
        }
        if (packBNow && !packBInChunk && r0 == 0) {
            bChunks = Math.min(jPanels, target);
            phase = Phase.PACK_B;
            pool.run(bChunks, this);
        }
        phase = Phase.COMPUTE;
        pool.run(chunks, this);
    }

    private void clearOperands() {
        bPanels = null;
        aSeg = bSeg = cSeg = biasSeg = rowBiasSeg = null;
        bSource = null;
    }

    @Override
    public void run(int task) {
        switch (phase) {
            case PACK_A -> packA(task);
            case PACK_B -> {
                int from = chunkStart(task, bChunks, jPanels);
                int to = chunkStart(task + 1, bChunks, jPanels);
                for (int pc = 0; pc < k; pc += kcStep) {
                    packB(from, to, pc, Math.min(kcStep, k - pc));
                }
            }
            case COMPUTE -> compute(task);
        }
    }

    /** Packs a run of (K block, row panel) pairs of the pass's rows of A. */
    private void packA(int task) {
        int units = kBlocks * passPanels;
        int from = chunkStart(task, aChunks, units);
        int to = chunkStart(task + 1, aChunks, units);
        for (int u = from; u < to; u++) {
            int pc = (u / passPanels) * kcStep;
            int kc = Math.min(kcStep, k - pc);
            int q = (u % passPanels) * MR;
            GemmKernel.packA(
                    aSeg,
                    aBase,
                    aRs,
                    aCs,
                    r0 + q,
                    Math.min(MR, r1 - r0 - q),
                    pc,
                    kc,
                    aBuf.floats(),
                    pc * passPadded + q * kc);
        }
    }

    /** C's rows of the pass's M block {@code task / jChunks} under its run of B panels: every K block. */
    private void compute(int task) {
        int jt = task % jChunks;
        int jFrom = chunkStart(jt, jChunks, jPanels);
        int jTo = chunkStart(jt + 1, jChunks, jPanels);
        int ic = r0 + task / jChunks * mcStep;
        int icEnd = Math.min(r1, ic + mcStep);
        // Several K blocks: the chunk's tiles are carried in a packed buffer from one block to the
        // next and C is written once, at the end, rather than read and written after every block.
        // Interleaved call by call against merging per block: +11–16% on one thread, +2–9% on two.
        float[] tile = TILE.get();
        float[] carried = null;
        if (kBlocks > 1) {
            int need = (jTo - jFrom) * ((icEnd - ic + MR - 1) / MR) * MR * NR;
            carried = CARRIED.get();
            if (carried.length < need) {
                carried = new float[need];
                CARRIED.set(carried);
            }
        }
        for (int pc = 0; pc < k; pc += kcStep) {
            int kc = Math.min(kcStep, k - pc);
            if (packBInChunk) {
                packB(jFrom, jTo, pc, kc);
            }
            int aBlock = pc * passPadded - r0 * kc; // row i's panel is at aBlock + i·kc
            if (packAInChunk) {
                for (int i0 = ic; i0 < icEnd; i0 += MR) {
                    GemmKernel.packA(
                            aSeg,
                            aBase,
                            aRs,
                            aCs,
                            i0,
                            Math.min(MR, icEnd - i0),
                            pc,
                            kc,
                            aBuf.floats(),
                            aBlock + i0 * kc);
                }
            }
            block(jFrom, jTo, ic, icEnd, pc, kc, aBlock, tile, carried);
        }
    }

    /**
     * One K block of a chunk. Tile (jp, i0) is carried at ((jp − jFrom)·panels + (i0 − ic)/MR)·MR·NR
     * in {@code carried}: the first block stores it, later ones add to it, and the last merges it
     * into C with α, β and the epilogue (straight from the register tile when there is one block).
     */
    private void block(
            int jFrom, int jTo, int ic, int icEnd, int pc, int kc, int aBlock, float[] tile, float[] carried) {
        boolean first = pc == 0;
        boolean last = pc + kc == k;
        boolean epilogue = last && (biasSeg != null || activation != Activation.NONE);
        int panels = (icEnd - ic + MR - 1) / MR;
        int touch = GemmKernel.touchFloats(kc);
        float touched = 0f;
        for (int jp = jFrom; jp < jTo; jp++) {
            int j0 = jp * NR;
            int nr = Math.min(NR, n - j0);
            int bOff = jp * bPanelStride + pc * bRowStep;
            // The B panel used after this one, which the 12-row kernels prefetch (GemmKernel.kernel): the
            // run's next in this K block, else its first in the next K block. A B packed by the
            // chunk is in L2 already (prefetching it measured no gain): they read their own panel.
            int next = bOff;
            int nextLen = kc * NR;
            if (!packBInChunk) {
                if (jp + 1 < jTo) {
                    next = bOff + bPanelStride;
                } else if (!last) {
                    next = jFrom * bPanelStride + (pc + kc) * bRowStep;
                    nextLen = Math.min(kcStep, k - pc - kc) * NR;
                }
            }
            if (nextLen < touch) {
                next = bOff;
                nextLen = kc * NR;
            }
            // Each A panel's 12-row kernel call reads its share of the next panel.
            int span = Math.max(
                    GemmKernel.LINE_FLOATS, nextLen / panels / GemmKernel.LINE_FLOATS * GemmKernel.LINE_FLOATS);
            int t = (jp - jFrom) * panels * MR * NR;
            for (int i0 = ic, q = 0; i0 < icEnd; i0 += MR, t += MR * NR, q++) {
                int mr = Math.min(MR, icEnd - i0);
                int aOff = aBlock + i0 * kc;
                int nextOff = next + Math.min(q * span, nextLen - touch);
                float[] result = carried;
                int at = t;
                if (mr > GemmKernel.SHORT_ROWS && !first) {
                    touched += GemmKernel.kernelAdd(aBuf, aOff, bPanels, bOff, kc, carried, t, bPanels, nextOff);
                } else {
                    if (mr > GemmKernel.SHORT_ROWS) {
                        touched += GemmKernel.kernel(aBuf, aOff, bPanels, bOff, kc, tile, 0, bPanels, nextOff);
                    } else {
                        // A short last panel: skip the padding rows, four at a time.
                        for (int r = 0; r < mr; r += 4) {
                            GemmKernel.kernel4(aBuf, aOff + r, bPanels, bOff, kc, tile, r);
                        }
                    }
                    if (first && last) {
                        result = tile;
                        at = 0;
                    } else {
                        GemmKernel.carryTile(tile, mr, carried, t, first);
                    }
                }
                if (last) {
                    long cOff = cBase + i0 * ldc + 4L * j0;
                    GemmKernel.mergeTile(result, at, mr, nr, cSeg, cOff, ldc, alpha, beta);
                    if (rowBiasSeg != null) {
                        GemmKernel.addRowBias(cSeg, cOff, ldc, mr, nr, rowBiasSeg, rowBiasOff + 4L * i0);
                    }
                    if (epilogue) {
                        Epilogues.apply(cSeg, cOff, ldc, mr, nr, biasSeg, biasOff + 4L * j0, activation);
                    }
                }
            }
        }
        touchSink = touched;
    }

    /** Packs the K block [pc, pc + kc) of B panels [jFrom, jTo) into bBuf. */
    private void packB(int jFrom, int jTo, int pc, int kc) {
        if (bSource != null) {
            bSource.pack(pc, kc, jFrom, jTo, n, bBuf, jFrom * bPanelStride + pc * bRowStep, bPanelStride);
            return;
        }
        int wholeTo = Math.min(jTo, n / NR);
        if (bCs == 1 && wholeTo > jFrom) {
            // Row-major B: read each row of the block once, left to right, writing NR columns to
            // each panel; the prefetcher then sees one stream per row rather than one page per k.
            GemmKernel.packBRows(
                    bSeg,
                    bBase,
                    bRs,
                    pc,
                    kc,
                    jFrom,
                    wholeTo - jFrom,
                    bBuf,
                    jFrom * bPanelStride + pc * bRowStep,
                    bPanelStride);
            jFrom = wholeTo;
        }
        for (int jp = jFrom; jp < jTo; jp++) {
            int j0 = jp * NR;
            GemmKernel.packB(
                    bSeg, bBase, bRs, bCs, pc, kc, j0, Math.min(NR, n - j0), bBuf, jp * bPanelStride + pc * bRowStep);
        }
    }

    private void scaleOnly() {
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

    /**
     * Start of chunk {@code c} when {@code total} items are split into {@code chunks} runs whose
     * sizes differ by at most one, the longer runs first. The order matters: the pool hands out
     * chunks in index order, so with 36 panels in 8 chunks an interleaved 4, 5, 4, 5, … gave one
     * of two threads every 5 (20 panels against 16, 10% idle); 5, 5, 5, 5, 4, 4, 4, 4 ends even.
     */
    static int chunkStart(int c, int chunks, int total) {
        int base = total / chunks;
        int longer = total % chunks;
        return c * base + Math.min(c, longer);
    }

    /**
     * Equal K blocks of at most {@code kc}: K = 1152 is 5 × 231, not 4 × 256 + 128. Every block costs a
     * pass over C (the register tiles are merged into C once per block).
     */
    static int kcStep(int k, int kc) {
        int blocks = Math.max(1, (k + kc - 1) / kc);
        return Math.max(1, (k + blocks - 1) / blocks);
    }

    private static int roundUp(int x, int to) {
        return (x + to - 1) / to * to;
    }
}
