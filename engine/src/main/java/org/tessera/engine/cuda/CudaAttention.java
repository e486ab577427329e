package org.tessera.engine.cuda;

import java.lang.foreign.Arena;
import org.tessera.engine.backend.AttentionMask;
import org.tessera.engine.backend.AttentionOps;
import org.tessera.engine.backend.OpChecks;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.ShapeMismatchException;
import org.tessera.engine.tensor.Tensor;

/**
 * Attention on the GPU, two ways.
 *
 * <p>When one batch row's scores fit a scratch buffer (H·Nq·Nk floats up to {@link #SCORES_BUDGET}
 * bytes; DiT-XL/2 at 256 tokens needs 4 MiB) and there are no segment ids, the scores are
 * materialised and the two products go to cuBLAS — tensor cores in TF32 — with the softmax as one
 * row-wise kernel in between:
 * <pre>
 * for b in batch:  S = scale·Q[b]·K[b]ᵀ (+ mask[b])   strided-batched over heads
 *                  P = softmax_rows(S)
 *                  out[b] = P·V[b]                    strided-batched over heads
 * </pre>
 * Otherwise (long sequences, segment ids, strided head dimensions) the flash-style kernel of
 * attention.cu runs: one warp per query row, K and V staged through shared memory, an online
 * softmax, and no N×N buffer. {@code -Dtessera.cuda.attention=flash|gemm} forces one of them.
 */
final class CudaAttention implements AttentionOps {
    private static final int MAX_D = 128;
    private static final int WARPS = 8;
    /** Largest score buffer (bytes) for the cuBLAS path. */
    private static final long SCORES_BUDGET = 64L << 20;

    private static final String FORCE = System.getProperty("tessera.cuda.attention", "auto");

    /** auto, flash or gemm: see the class comment. */
    private String path = FORCE;

    private final CudaDevice dev;
    private final CudaElementwise elementwise;
    private final CudaNorms norms;
    /** The attention products' precision: TF32 unless the backend computes FP32 (BF16 products also use TF32 here). */
    private final org.tessera.ffi.Cublas.Precision precision;
    /** Scores of one batch row [H, Nq, Nk], grown as needed; a grown-out buffer stays with the device (graphs may use it). */
    private Tensor scores;

    CudaAttention(
            CudaDevice dev, CudaElementwise elementwise, CudaNorms norms, org.tessera.ffi.Cublas.Precision precision) {
        this.dev = dev;
        this.elementwise = elementwise;
        this.norms = norms;
        this.precision = precision == org.tessera.ffi.Cublas.Precision.FP32
                ? org.tessera.ffi.Cublas.Precision.FP32
                : org.tessera.ffi.Cublas.Precision.TF32;
    }

    /** Forces a path (auto, flash or gemm), for the self-test to check both. */
    void usePath(String p) {
        path = p;
    }

    /** Whether the cuBLAS path takes this call. */
    private boolean viaGemm(Tensor q, Tensor k, Tensor v, Tensor out) {
        if (path.equals("flash")) {
            return false;
        }
        boolean unitRows = q.stride(3) == 1 && k.stride(3) == 1 && v.stride(3) == 1 && out.stride(3) == 1;
        long bytes = 4L * q.size(1) * q.size(2) * k.size(2);
        return unitRows && (path.equals("gemm") || bytes <= SCORES_BUDGET);
    }

    /** The materialised path; {@code bias} (additive, 4-D broadcastable to [B, H, Nq, Nk]) may be null. */
    private void attentionViaGemm(Tensor q, Tensor k, Tensor v, Tensor out, Tensor bias, float scale) {
        int batch = q.size(0);
        int heads = q.size(1);
        int nq = q.size(2);
        int nk = k.size(2);
        int d = q.size(3);
        long need = (long) heads * nq * nk;
        if (scores == null || scores.numel() < need) {
            scores = dev.allocate(DType.F32, Math.toIntExact(Math.max(1, need)));
        }
        Tensor s = scores.slice(0, 0, Math.toIntExact(need)).reshape(heads, nq, nk);
        Tensor bias4 = bias == null ? null : bias.rank() == 4 ? bias : bias.reshape(padTo4(bias.shape()));
        for (int b = 0; b < batch; b++) {
            Tensor qb = q.select(0, b);
            Tensor kb = k.select(0, b);
            Tensor vb = v.select(0, b);
            Tensor ob = out.select(0, b);
            // S[h] = scale·Q[h]·K[h]ᵀ: K rows are the B operand's columns (K stored [Nk, d], read transposed).
            dev.cublas()
                    .gemm(
                            precision,
                            false,
                            true,
                            nq,
                            nk,
                            d,
                            scale,
                            CudaDevice.address(qb),
                            (int) Math.max(qb.stride(1), d),
                            qb.stride(0),
                            CudaDevice.address(kb),
                            (int) Math.max(kb.stride(1), d),
                            kb.stride(0),
                            0f,
                            CudaDevice.address(s),
                            nk,
                            (long) nq * nk,
                            heads);
            if (bias4 != null) {
                Tensor row = bias4.size(0) == 1 ? bias4.select(0, 0) : bias4.select(0, b);
                elementwise.add(s, row, s);
            }
            norms.softmax(s, s);
            // out[h] = P[h]·V[h].
            dev.cublas()
                    .gemm(
                            precision,
                            false,
                            false,
                            nq,
                            d,
                            nk,
                            1f,
                            CudaDevice.address(s),
                            nk,
                            (long) nq * nk,
                            CudaDevice.address(vb),
                            (int) Math.max(vb.stride(1), d),
                            vb.stride(0),
                            0f,
                            CudaDevice.address(ob),
                            (int) Math.max(ob.stride(1), d),
                            ob.stride(0),
                            heads);
        }
    }

    @Override
    public void attention(Tensor q, Tensor k, Tensor v, Tensor out, Tensor segmentIds, float scale) {
        OpChecks.attention(q, k, v, out);
        if (segmentIds.dtype() != DType.I64 && segmentIds.dtype() != DType.I32
                || !segmentIds.isContiguous()
                || segmentIds.rank() != 2
                || segmentIds.size(0) != q.size(0)
                || segmentIds.size(1) != q.size(2)
                || q.size(2) != k.size(2)) {
            throw new ShapeMismatchException("attention: segment ids must be a contiguous integer [" + q.size(0) + ", "
                    + q.size(2) + "] tensor for self-attention, got " + segmentIds);
        }
        if (q.numel() == 0) {
            return;
        }
        launch(q, k, v, out, strides(q, k, v, out), null, segmentIds, segmentIds, scale);
    }

    @Override
    public void attention(Tensor q, Tensor k, Tensor v, Tensor out, AttentionMask mask, float scale) {
        OpChecks.attention(q, k, v, out);
        OpChecks.mask(mask, q.size(0), q.size(1), q.size(2), k.size(2));
        long[] args = strides(q, k, v, out);
        int b = q.size(0), h = q.size(1), nq = q.size(2), nk = k.size(2);
        if (q.numel() == 0) {
            return;
        }
        if (!(mask instanceof AttentionMask.Segments) && viaGemm(q, k, v, out)) {
            attentionViaGemm(q, k, v, out, mask instanceof AttentionMask.Additive a ? a.bias() : null, scale);
            return;
        }
        Tensor bias = null;
        Tensor segQ = null;
        Tensor segK = null;
        switch (mask) {
            case AttentionMask.None none -> {}
            case AttentionMask.Additive add -> {
                bias = add.bias();
                Tensor full = bias.rank() == 4 ? bias : bias.reshape(padTo4(bias.shape()));
                int[] target = {b, h, nq, nk};
                for (int i = 0; i < 4; i++) {
                    args[21 + i] = full.size(i) == 1 ? 0 : full.stride(i);
                    if (full.size(i) != 1 && full.size(i) != target[i]) {
                        throw new ShapeMismatchException("attention: mask " + java.util.Arrays.toString(bias.shape())
                                + " does not broadcast to " + java.util.Arrays.toString(target));
                    }
                }
            }
            case AttentionMask.Segments seg -> {
                segQ = ids(seg.query(), b, nq);
                segK = seg.key() == seg.query() ? segQ : ids(seg.key(), b, nk);
            }
        }
        try {
            launch(q, k, v, out, args, bias, segQ, segK, scale);
        } finally {
            if (segQ != null) {
                dev.synchronize("attention");
                dev.free(segQ);
                if (segK != segQ) {
                    dev.free(segK);
                }
            }
        }
    }

    private static long[] strides(Tensor q, Tensor k, Tensor v, Tensor out) {
        if (q.rank() != 4 || k.rank() != 4 || v.rank() != 4 || out.rank() != 4) {
            throw new ShapeMismatchException("attention: expects [B, H, N, d] tensors");
        }
        if (q.size(3) > MAX_D) {
            throw new ShapeMismatchException("attention on CUDA: head dim " + q.size(3) + " is above " + MAX_D);
        }
        long[] args = new long[5 + 5 * 4];
        args[0] = q.size(0);
        args[1] = q.size(1);
        args[2] = q.size(2);
        args[3] = k.size(2);
        args[4] = q.size(3);
        put(args, 5, q);
        put(args, 9, k);
        put(args, 13, v);
        put(args, 17, out);
        return args;
    }

    private void launch(
            Tensor q, Tensor k, Tensor v, Tensor out, long[] args, Tensor bias, Tensor segQ, Tensor segK, float scale) {
        boolean wide = segQ != null && segQ.dtype() == DType.I64;
        dev.args()
                .struct(args)
                .f32(scale)
                .ptr(CudaDevice.address(q))
                .ptr(CudaDevice.address(k))
                .ptr(CudaDevice.address(v))
                .ptr(CudaDevice.address(bias))
                .ptr(CudaDevice.address(segQ))
                .ptr(CudaDevice.address(segK))
                .i32(wide ? 1 : 0)
                .ptr(CudaDevice.address(out));
        dev.launch("attention.cu", "attention_f32", (q.size(2) + WARPS - 1) / WARPS, q.size(1), q.size(0), WARPS * 32);
    }

    private static void put(long[] args, int at, Tensor t) {
        for (int i = 0; i < 4; i++) {
            args[at + i] = t.stride(i);
        }
    }

    private static int[] padTo4(int[] shape) {
        int[] s = {1, 1, 1, 1};
        System.arraycopy(shape, 0, s, 4 - shape.length, shape.length);
        return s;
    }

    /** Segment ids as an int32 device tensor [batch, n]. */
    private Tensor ids(int[][] rows, int batch, int n) {
        if (rows.length != batch || rows[0].length != n) {
            throw new ShapeMismatchException("attention: segment ids must be [" + batch + ", " + n + "]");
        }
        try (Arena a = Arena.ofConfined()) {
            Tensor host = Tensor.zeros(a, DType.I32, batch, n);
            for (int i = 0; i < batch; i++) {
                host.storage()
                        .asSlice((long) i * n * 4, (long) n * 4)
                        .copyFrom(java.lang.foreign.MemorySegment.ofArray(rows[i]));
            }
            return dev.upload(host);
        }
    }
}
