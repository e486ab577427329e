package org.tessera.engine.cuda;

import java.lang.foreign.Arena;
import org.tessera.engine.backend.Activation;
import org.tessera.engine.backend.Epilogue;
import org.tessera.engine.backend.GemmOps;
import org.tessera.engine.backend.OpChecks;
import org.tessera.engine.backend.PackedMatrix;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.ShapeMismatchException;
import org.tessera.engine.tensor.Tensor;
import org.tessera.ffi.Cublas;

/**
 * Matrix products through cuBLAS, in FP32, TF32 or BF16 (BF16 operands, FP32 accumulation and
 * output). A "packed" B is the weight uploaded once — already in BF16 for BF16 — in whichever of
 * its two layouts it arrived; the epilogue runs as one kernel after the product.
 */
final class CudaGemm implements GemmOps {
    private final CudaDevice dev;
    private final Cublas.Precision precision;
    private final CudaElementwise elementwise;
    /** BF16 copies of A (and of an unpacked B), grown as needed and then reused. */
    private Tensor scratchA;

    private Tensor scratchB;

    /** B on the device: rows × cols, stored either row-major (ld = cols) or transposed (ld = rows). */
    record CudaPackedMatrix(int rows, int cols, Tensor data, boolean transposed) implements PackedMatrix {}

    CudaGemm(CudaDevice dev, Cublas.Precision precision, CudaElementwise elementwise) {
        this.dev = dev;
        this.precision = precision;
        this.elementwise = elementwise;
    }

    /** One operand as cuBLAS sees it: a pointer, whether it is transposed in memory, and its leading dimension. */
    private record Operand(long ptr, boolean trans, int ld) {}

    /**
     * cuBLAS needs one unit stride and a leading dimension at least the other extent: rows that
     * overlap (a broadcast, stride 0) would be read as distinct rows, so they are refused.
     */
    private static Operand operand(String name, Tensor t) {
        int rows = t.size(0);
        int cols = t.size(1);
        if ((t.stride(1) == 1 || cols == 1) && (rows == 1 || t.stride(0) >= cols)) {
            return new Operand(CudaDevice.address(t), false, (int) Math.max(t.stride(0), Math.max(1, cols)));
        }
        if ((t.stride(0) == 1 || rows == 1) && (cols == 1 || t.stride(1) >= rows)) {
            return new Operand(CudaDevice.address(t), true, (int) Math.max(t.stride(1), Math.max(1, rows)));
        }
        throw new ShapeMismatchException("gemm on CUDA: " + name + " " + java.util.Arrays.toString(t.shape())
                + " with strides " + java.util.Arrays.toString(t.strides())
                + " is not a matrix cuBLAS can read (one unit stride, rows apart by at least a row)");
    }

    @Override
    public void gemm(Tensor a, Tensor b, Tensor c, float alpha, float beta, Epilogue epilogue) {
        OpChecks.gemm(a, b, c);
        Operand oa = operand("A", a);
        Operand ob = operand("B", b);
        if (precision == Cublas.Precision.BF16) {
            Tensor b16 = toBf16(b, false);
            ob = new Operand(CudaDevice.address(b16), false, b.size(1));
        }
        run(a, oa, ob, c, b.size(1), alpha, beta, epilogue);
    }

    @Override
    public PackedMatrix pack(Tensor b, Arena arena) {
        OpChecks.f32("gemm", "B", b);
        // Weights arrive as w.t() of a row-major [out, in] weight: keep the weight itself and
        // remember that B is its transpose.
        boolean transposed = b.stride(0) == 1 && b.size(0) > 1;
        Tensor stored = transposed ? b.t() : b;
        DType type = precision == Cublas.Precision.BF16 ? DType.BF16 : DType.F32;
        if (stored.device() == org.tessera.engine.tensor.Device.CUDA) {
            Tensor copy = dev.allocate(type, stored.shape());
            if (type == DType.BF16) {
                CudaData.cast(dev, stored, copy);
            } else {
                CudaData.copy(dev, stored, copy);
            }
            return new CudaPackedMatrix(b.size(0), b.size(1), copy, transposed);
        }
        Tensor host = type == DType.BF16 ? stored.to(DType.BF16, arena) : stored;
        return new CudaPackedMatrix(b.size(0), b.size(1), dev.upload(host), transposed);
    }

    @Override
    public void gemm(Tensor a, PackedMatrix packed, Tensor c, float alpha, float beta, Epilogue epilogue) {
        if (!(packed instanceof CudaPackedMatrix p)) {
            throw new IllegalArgumentException("gemm on CUDA: B was packed by another backend");
        }
        if (a.size(1) != p.rows() || c.size(0) != a.size(0) || c.size(1) != p.cols()) {
            throw new ShapeMismatchException("gemm: A " + java.util.Arrays.toString(a.shape()) + " · B [" + p.rows()
                    + ", " + p.cols() + "] → C " + java.util.Arrays.toString(c.shape()));
        }
        Operand ob = new Operand(CudaDevice.address(p.data()), p.transposed(), p.transposed() ? p.rows() : p.cols());
        run(a, operand("A", a), ob, c, p.cols(), alpha, beta, epilogue);
    }

    private void run(Tensor a, Operand oa, Operand ob, Tensor c, int n, float alpha, float beta, Epilogue epilogue) {
        OpChecks.epilogue(epilogue, n);
        if (a.size(0) == 0 || n == 0) {
            return;
        }
        if (c.stride(1) != 1 && c.size(1) > 1) {
            throw new ShapeMismatchException("gemm on CUDA: C rows must be contiguous");
        }
        int m = a.size(0);
        int k = a.size(1);
        if (precision == Cublas.Precision.BF16) {
            Tensor a16 = toBf16(a, true);
            oa = new Operand(CudaDevice.address(a16), false, k);
        }
        int ldc = (int) Math.max(c.stride(0), Math.max(1, n));
        dev.cublas()
                .gemm(
                        precision,
                        oa.trans(),
                        ob.trans(),
                        m,
                        n,
                        k,
                        alpha,
                        oa.ptr(),
                        oa.ld(),
                        0,
                        ob.ptr(),
                        ob.ld(),
                        0,
                        beta,
                        CudaDevice.address(c),
                        ldc,
                        0,
                        1);
        if (epilogue.bias() != null || epilogue.activation() != Activation.NONE) {
            elementwise.biasActivate(c, epilogue.bias(), epilogue.activation());
        }
    }

    /** One strided-batched call per run, whatever the batch: nothing to cut in advance. */
    @Override
    public Runnable boundBatchedGemm(Tensor a, Tensor b, Tensor c, float alpha, float beta) {
        OpChecks.batchedGemm(a, b, c);
        return () -> batchedGemm(a, b, c, alpha, beta);
    }

    @Override
    public void batchedGemm(Tensor a, Tensor b, Tensor c, float alpha, float beta) {
        OpChecks.batchedGemm(a, b, c);
        if (precision == Cublas.Precision.BF16) {
            GemmOps.super.batchedGemm(a, b, c, alpha, beta);
            return;
        }
        Tensor a0 = a.select(0, 0);
        Tensor b0 = b.select(0, 0);
        Tensor c0 = c.select(0, 0);
        Operand oa = operand("A", a0);
        Operand ob = operand("B", b0);
        int ldc = (int) Math.max(c0.stride(0), Math.max(1, c0.size(1)));
        dev.cublas()
                .gemm(
                        precision,
                        oa.trans(),
                        ob.trans(),
                        a0.size(0),
                        b0.size(1),
                        a0.size(1),
                        alpha,
                        oa.ptr(),
                        oa.ld(),
                        a.stride(0),
                        ob.ptr(),
                        ob.ld(),
                        b.stride(0),
                        beta,
                        CudaDevice.address(c0),
                        ldc,
                        c.stride(0),
                        a.size(0));
    }

    /**
     * A row-major BF16 copy of a 2-D f32 view (any strides), in a scratch buffer reused across
     * calls. A buffer that grows is not freed but left to the device (freed when it closes): a
     * CUDA graph captured earlier may still point at it.
     */
    private Tensor toBf16(Tensor t, boolean isA) {
        int rows = t.size(0);
        int cols = t.size(1);
        Tensor scratch = isA ? scratchA : scratchB;
        if (scratch == null || scratch.numel() < (long) rows * cols) {
            scratch = dev.allocate(DType.BF16, Math.max(1, rows * cols));
            if (isA) {
                scratchA = scratch;
            } else {
                scratchB = scratch;
            }
        }
        Tensor dst = scratch.slice(0, 0, rows * cols).reshape(rows, cols);
        CudaData.cast(dev, t, dst);
        return dst;
    }
}
