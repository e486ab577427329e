package org.tessera.engine.cuda;

import org.tessera.engine.backend.TableOps;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.ShapeMismatchException;
import org.tessera.engine.tensor.Tensor;

/** Sinusoidal tables (tables.cu), computed in double like the CPU backend. */
final class CudaTables implements TableOps {
    private static final String FILE = "tables.cu";
    private final CudaDevice dev;

    CudaTables(CudaDevice dev) {
        this.dev = dev;
    }

    @Override
    public void timestepEmbedding(Tensor t, double maxPeriod, Tensor out) {
        requireF32("timestepEmbedding", t);
        CudaElementwise.requireOut("timestepEmbedding", out);
        dev.args().i64(out.size(0)).i64(out.size(1)).f64(maxPeriod).ptr(CudaDevice.address(t)).ptr(CudaDevice.address(out));
        dev.launch1d(FILE, "timestep_embedding_f32", out.numel());
    }

    @Override
    public void sinCos1d(Tensor positions, Tensor out) {
        requireF32("sinCos1d", positions);
        CudaElementwise.requireOut("sinCos1d", out);
        dev.args().i64(out.size(0)).i64(out.size(1)).ptr(CudaDevice.address(positions)).ptr(CudaDevice.address(out));
        dev.launch1d(FILE, "sincos1d_f32", out.numel());
    }

    @Override
    public void sinCos2d(int gridH, int gridW, Tensor out) {
        CudaElementwise.requireOut("sinCos2d", out);
        dev.args().i64(gridH).i64(gridW).i64(out.size(1)).ptr(CudaDevice.address(out));
        dev.launch1d(FILE, "sincos2d_f32", out.numel());
    }

    private static void requireF32(String op, Tensor t) {
        if (t.dtype() != DType.F32 || !t.isContiguous()) {
            throw new ShapeMismatchException(op + " on CUDA: expects a contiguous f32 input, got " + t.dtype().shortName()
                    + java.util.Arrays.toString(t.shape()));
        }
    }
}
