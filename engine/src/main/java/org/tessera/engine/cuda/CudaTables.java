package org.tessera.engine.cuda;

import org.tessera.engine.backend.OpChecks;
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
        OpChecks.rank("timestepEmbedding", "t", t, 1);
        OpChecks.table("timestepEmbedding", out, t.size(0));
        int type = switch (t.dtype()) {
            case F32 -> 0;
            case I64 -> 1;
            case I32 -> 2;
            default ->
                throw new ShapeMismatchException("timestepEmbedding on CUDA: t must be f32, i64 or i32, got "
                        + t.dtype().shortName());
        };
        if (out.numel() == 0) {
            return;
        }
        dev.args()
                .i64(out.size(0))
                .i64(out.size(1))
                .f64(maxPeriod)
                .ptr(CudaDevice.address(t))
                .i32(type)
                .i64(t.stride(0))
                .ptr(CudaDevice.address(out));
        dev.launch1d(FILE, "timestep_embedding_f32", out.numel());
    }

    @Override
    public void sinCos1d(Tensor positions, Tensor out) {
        OpChecks.sinCos1d(positions, out);
        requireF32("sinCos1d", positions);
        dev.args()
                .i64(out.size(0))
                .i64(out.size(1))
                .ptr(CudaDevice.address(positions))
                .ptr(CudaDevice.address(out));
        dev.launch1d(FILE, "sincos1d_f32", out.numel());
    }

    @Override
    public void sinCos2d(int gridH, int gridW, Tensor out) {
        OpChecks.sinCos2d(gridH, gridW, out);
        dev.args().i64(gridH).i64(gridW).i64(out.size(1)).ptr(CudaDevice.address(out));
        dev.launch1d(FILE, "sincos2d_f32", out.numel());
    }

    private static void requireF32(String op, Tensor t) {
        if (t.dtype() != DType.F32 || !t.isContiguous()) {
            throw new ShapeMismatchException(op + " on CUDA: expects a contiguous f32 input, got "
                    + t.dtype().shortName() + java.util.Arrays.toString(t.shape()));
        }
    }
}
