package org.tessera.engine.cuda;

import java.lang.foreign.Arena;
import org.tessera.engine.backend.AttentionMask;
import org.tessera.engine.backend.AttentionOps;
import org.tessera.engine.backend.OpChecks;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.ShapeMismatchException;
import org.tessera.engine.tensor.Tensor;

/** Fused attention (attention.cu): one warp per query row, K and V staged through shared memory. */
final class CudaAttention implements AttentionOps {
    private static final int MAX_D = 128;
    private static final int WARPS = 8;
    private final CudaDevice dev;

    CudaAttention(CudaDevice dev) {
        this.dev = dev;
    }

    @Override
    public void attention(Tensor q, Tensor k, Tensor v, Tensor out, Tensor segmentIds, float scale) {
        OpChecks.attention(q, k, v, out);
        if (segmentIds.dtype() != DType.I64 && segmentIds.dtype() != DType.I32 || !segmentIds.isContiguous()
                || segmentIds.rank() != 2 || segmentIds.size(0) != q.size(0) || segmentIds.size(1) != q.size(2)
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
        Tensor bias = null;
        Tensor segQ = null;
        Tensor segK = null;
        switch (mask) {
            case AttentionMask.None none -> { }
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

    private void launch(Tensor q, Tensor k, Tensor v, Tensor out, long[] args, Tensor bias, Tensor segQ, Tensor segK,
                        float scale) {
        boolean wide = segQ != null && segQ.dtype() == DType.I64;
        dev.args().struct(args).f32(scale).ptr(CudaDevice.address(q)).ptr(CudaDevice.address(k))
                .ptr(CudaDevice.address(v)).ptr(CudaDevice.address(bias)).ptr(CudaDevice.address(segQ))
                .ptr(CudaDevice.address(segK)).i32(wide ? 1 : 0).ptr(CudaDevice.address(out));
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
                host.storage().asSlice((long) i * n * 4, (long) n * 4).copyFrom(java.lang.foreign.MemorySegment.ofArray(rows[i]));
            }
            return dev.upload(host);
        }
    }
}
