package org.tessera.engine.cuda;

import org.tessera.engine.backend.NormOps;
import org.tessera.engine.backend.OpChecks;
import org.tessera.engine.tensor.Tensor;

/** Normalisations, one block per row or group (norms.cu). */
final class CudaNorms implements NormOps {
    private static final String FILE = "norms.cu";
    private final CudaDevice dev;

    CudaNorms(CudaDevice dev) {
        this.dev = dev;
    }

    private static long rows(Tensor x) {
        return x.numel() / Math.max(1, x.size(-1));
    }

    private int blocks(long rows) {
        return (int) Math.max(1, Math.min(rows, 65_535L * 16));
    }

    @Override
    public void softmax(Tensor x, Tensor out) {
        OpChecks.rowwise("softmax", x, out);
        long rows = rows(x);
        dev.args().i64(rows).i64(x.size(-1)).ptr(CudaDevice.address(x)).ptr(CudaDevice.address(out));
        dev.launch(FILE, "softmax_f32", blocks(rows), 1, 1, CudaDevice.THREADS);
    }

    @Override
    public void layerNorm(Tensor x, Tensor weight, Tensor bias, float eps, Tensor out) {
        OpChecks.rowwise("layerNorm", x, out);
        OpChecks.optionalVector("layerNorm", "weight", weight, x.size(-1));
        OpChecks.optionalVector("layerNorm", "bias", bias, x.size(-1));
        long rows = rows(x);
        dev.args()
                .i64(rows)
                .i64(x.size(-1))
                .f32(eps)
                .ptr(CudaDevice.address(x))
                .ptr(CudaDevice.address(weight))
                .ptr(CudaDevice.address(bias))
                .ptr(CudaDevice.address(out));
        dev.launch(FILE, "layernorm_f32", blocks(rows), 1, 1, CudaDevice.THREADS);
    }

    @Override
    public void layerNormModulate(Tensor x, Tensor shift, Tensor scale, float eps, Tensor out) {
        OpChecks.rowwise("layerNormModulate", x, out);
        OpChecks.broadcastsTo("layerNormModulate", "shift", shift, x);
        OpChecks.broadcastsTo("layerNormModulate", "scale", scale, x);
        long rows = rows(x);
        dev.args()
                .i64(rows)
                .i64(x.size(-1))
                .f32(eps)
                .struct(KernelStrides.of("layerNormModulate", x.shape(), x, shift, scale))
                .ptr(CudaDevice.address(x))
                .ptr(CudaDevice.address(shift))
                .ptr(CudaDevice.address(scale))
                .ptr(CudaDevice.address(out));
        dev.launch(FILE, "layernorm_modulate_f32", blocks(rows), 1, 1, CudaDevice.THREADS);
    }

    @Override
    public void groupNorm(Tensor x, int groups, Tensor weight, Tensor bias, float eps, Tensor out) {
        OpChecks.groupNorm(x, groups, weight, bias, out);
        int n = x.size(0);
        int c = x.size(1);
        long spatial = x.numel() / Math.max(1L, (long) n * c);
        dev.args()
                .i64(n)
                .i64(c)
                .i64(spatial)
                .i64(groups)
                .f32(eps)
                .ptr(CudaDevice.address(x))
                .ptr(CudaDevice.address(weight))
                .ptr(CudaDevice.address(bias))
                .ptr(CudaDevice.address(out));
        dev.launch(FILE, "groupnorm_f32", blocks((long) n * groups), 1, 1, CudaDevice.THREADS);
    }
}
