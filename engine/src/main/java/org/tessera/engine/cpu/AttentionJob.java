package org.tessera.engine.cpu;

import static org.tessera.engine.cpu.GemmKernel.MR;
import static org.tessera.engine.cpu.GemmKernel.NR;

import java.lang.foreign.MemorySegment;
import org.tessera.engine.backend.AttentionMask;
import org.tessera.engine.parallel.WorkerPool;
import org.tessera.engine.tensor.Tensor;

/**
 * One attention call, run on a {@link WorkerPool} in waves of (batch, head) pairs.
 *
 * <pre>
 * for each wave of pairs (as many as fit the packing budget):
 *   when the wave has at least 4 pairs per thread (DiT: 32 pairs of 256 tokens), or one thread:
 *     parallel over pairs:              pack K and V of the pair, then run all its query panels
 *   otherwise (few, long pairs: video):
 *     parallel over pairs × {K, V}:     pack K and V of the pair once, shared by its query panels
 *     parallel over pairs × panels:     {@link AttentionPanel} runs flash attention for NR queries
 * </pre>
 *
 * <p>Whole pairs keep a pair's packed K and V in the L2 of the core that packed them, and cost
 * one barrier per wave instead of two. Split across both cores, every pair was read by both; the
 * DiT shape ran at 1.7× its one-thread speed on two threads.
 *
 * <p>The kernels compute the transposed problem, Sᵀ = K·Qᵀ and Oᵀ = Vᵀ·Pᵀ, so that the packed
 * layouts of the GEMM register kernel serve directly (see {@link AttentionPanel}): K is packed as
 * the A operand (micro-panels of MR keys, d deep), Vᵀ as the A operand (micro-panels of MR
 * columns of the head dimension, keys deep). One instance per calling thread is reused, packing
 * buffer included, so a call allocates nothing in steady state.
 */
final class AttentionJob implements WorkerPool.Task {
    /** Packed K and V floats per wave: 16 MiB, so the packed heads of a wave stay near the cores. */
    private static final long WAVE_FLOATS = 1L << 22;

    private enum Phase {
        PACK,
        COMPUTE,
        WHOLE_PAIRS
    }

    /** Pairs per thread in a wave from which each task takes a whole pair. */
    private static final int PAIRS_PER_THREAD = 4;

    // Shapes of the current call.
    int heads;
    int nq;
    int nk;
    int d;
    float scale;
    /** Keys rounded up to MR: the key extent of every packed panel. */
    int nkPad;
    /** Micro-panels of MR head-dimension columns in packed Vᵀ (and in the output accumulator). */
    int dPanels;
    /** Keys per block of the online softmax: a multiple of MR, at most AttentionPanel.BK. */
    int keyBlock;

    // Operands: element (b, h, token, c) of X at xOff + b·xs[0] + h·xs[1] + token·xs[2] + c·xs[3].
    MemorySegment qSeg;
    long qOff;
    final long[] qs = new long[4];
    private MemorySegment kSeg;
    private long kOff;
    private final long[] ks = new long[4];
    private MemorySegment vSeg;
    private long vOff;
    private final long[] vs = new long[4];
    MemorySegment outSeg;
    long outOff;
    final long[] os = new long[4];

    // Mask: an additive bias broadcast to [B, H, Nq, Nk] (stride 0 on broadcast dims), or segments.
    MemorySegment biasSeg;
    long biasOff;
    final long[] bs = new long[4];
    int[][] querySegments;
    int[][] keySegments;

    // Packed K and V of the current wave: pair p at p·pairFloats, K first, then Vᵀ.
    final APanels kv = new APanels();
    int pairFloats;
    int kFloats;
    private int wave0;
    private int waveSize;
    private int qPanels;
    private Phase phase;

    /** Takes the operands of a call whose arguments have been checked. */
    void set(Tensor q, Tensor k, Tensor v, Tensor out, AttentionMask mask, float scale) {
        heads = q.size(1);
        nq = q.size(2);
        nk = k.size(2);
        d = q.size(3);
        this.scale = scale;
        qSeg = q.storage();
        qOff = q.offset();
        strides(q, qs);
        kSeg = k.storage();
        kOff = k.offset();
        strides(k, ks);
        vSeg = v.storage();
        vOff = v.offset();
        strides(v, vs);
        outSeg = out.storage();
        outOff = out.offset();
        strides(out, os);
        biasSeg = null;
        querySegments = keySegments = null;
        switch (mask) {
            case AttentionMask.None none -> {}
            case AttentionMask.Additive add -> {
                Tensor bias = add.bias();
                biasSeg = bias.storage();
                biasOff = bias.offset();
                // Right-align the bias dims with [B, H, Nq, Nk]; missing and size-1 dims broadcast.
                int lead = 4 - bias.rank();
                for (int i = 0; i < 4; i++) {
                    bs[i] = i < lead || bias.size(i - lead) == 1 ? 0 : bias.stride(i - lead);
                }
            }
            case AttentionMask.Segments seg -> {
                querySegments = seg.query();
                keySegments = seg.key();
            }
        }
    }

    /** Runs the call given to {@link #set} on {@code pool}. */
    void run(WorkerPool pool, int batch) {
        int pairs = batch * heads;
        if (pairs == 0 || nq == 0 || d == 0) {
            release();
            return;
        }
        nkPad = (nk + MR - 1) / MR * MR;
        dPanels = (d + MR - 1) / MR;
        // Equal blocks rather than full ones and a short tail: with 12-row tiles 256 keys make one
        // block of 256, not 252 + 4, whose tail would pay a whole block's overhead for a few keys
        // (with 6-row tiles, two of 128).
        int blocks = Math.max(1, (nk + AttentionPanel.BK - 1) / AttentionPanel.BK);
        keyBlock = ((nk + blocks - 1) / blocks + MR - 1) / MR * MR;
        kFloats = Math.multiplyExact(nkPad, d);
        pairFloats = Math.addExact(kFloats, Math.multiplyExact(dPanels * MR, nkPad));
        int perWave = pairFloats == 0 ? pairs : (int) Math.max(1, Math.min(pairs, WAVE_FLOATS / pairFloats));
        int need = Math.multiplyExact(perWave, pairFloats);
        kv.ensure(need);
        qPanels = (nq + NR - 1) / NR;
        for (wave0 = 0; wave0 < pairs; wave0 += perWave) {
            waveSize = Math.min(perWave, pairs - wave0);
            if (pool.threads() == 1 || waveSize >= PAIRS_PER_THREAD * pool.threads()) {
                phase = Phase.WHOLE_PAIRS;
                pool.run(waveSize, this);
                continue;
            }
            phase = Phase.PACK;
            pool.run(2 * waveSize, this);
            phase = Phase.COMPUTE;
            pool.run(waveSize * qPanels, this);
        }
        release();
    }

    @Override
    public void run(int task) {
        switch (phase) {
            case PACK -> {
                if ((task & 1) == 0) {
                    packKeys(task >> 1);
                } else {
                    packValues(task >> 1);
                }
            }
            case COMPUTE -> {
                int slot = task / qPanels;
                int pair = wave0 + slot;
                AttentionPanel.forThisThread().run(this, pair / heads, pair % heads, slot * pairFloats, task % qPanels);
            }
            case WHOLE_PAIRS -> {
                packKeys(task);
                packValues(task);
                int pair = wave0 + task;
                AttentionPanel panel = AttentionPanel.forThisThread();
                for (int p = 0; p < qPanels; p++) {
                    panel.run(this, pair / heads, pair % heads, task * pairFloats, p);
                }
            }
        }
    }

    /** Packs K of the wave's pair in {@code slot} (the A operand of Sᵀ = K·Qᵀ). */
    private void packKeys(int slot) {
        int pair = wave0 + slot;
        int b = pair / heads;
        int h = pair % heads;
        AttentionPack.forThisThread()
                .packKeys(kSeg, kOff + b * ks[0] + h * ks[1], ks[2], ks[3], nk, d, kv.floats(), slot * pairFloats);
    }

    /** Packs Vᵀ of the wave's pair in {@code slot} (the A operand of Oᵀ = Vᵀ·Pᵀ). */
    private void packValues(int slot) {
        int pair = wave0 + slot;
        int b = pair / heads;
        int h = pair % heads;
        AttentionPack.forThisThread()
                .packValues(
                        vSeg,
                        vOff + b * vs[0] + h * vs[1],
                        vs[2],
                        vs[3],
                        nk,
                        nkPad,
                        d,
                        kv.floats(),
                        slot * pairFloats + kFloats);
    }

    /** Drops the references to the caller's memory. */
    private void release() {
        qSeg = kSeg = vSeg = outSeg = biasSeg = null;
        querySegments = keySegments = null;
    }

    private static void strides(Tensor t, long[] dst) {
        for (int i = 0; i < 4; i++) {
            dst[i] = t.stride(i);
        }
    }
}
