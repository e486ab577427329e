package org.tessera.engine.cuda;

import org.tessera.engine.backend.Activation;
import org.tessera.engine.backend.ConvOps;
import org.tessera.engine.backend.Epilogue;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.ShapeMismatchException;
import org.tessera.engine.tensor.Tensor;

/**
 * Convolutions as im2col + one cuBLAS GEMM against the weight viewed as [out, c·k…] (transposed
 * in place, not copied); the column buffer grows as needed and is reused.
 */
final class CudaConv implements ConvOps {
    private final CudaDevice dev;
    private final CudaGemm gemm;
    private Tensor cols;
    private Tensor staging;

    CudaConv(CudaDevice dev, CudaGemm gemm) {
        this.dev = dev;
        this.gemm = gemm;
    }

    /** A scratch buffer of at least {@code elements}; one that grows is left to the device (a captured graph may use it). */
    private Tensor buffer(Tensor current, long elements, boolean isCols) {
        if (current != null && current.numel() >= elements) {
            return current;
        }
        Tensor t = dev.allocate(DType.F32, Math.toIntExact(Math.max(1, elements)));
        if (isCols) {
            cols = t;
        } else {
            staging = t;
        }
        return t;
    }

    @Override
    public void patchEmbed2d(Tensor x, Tensor weight, Tensor bias, Tensor out) {
        org.tessera.engine.backend.OpChecks.patchEmbed("patchEmbed2d", x, weight, bias, out, 2);
        int ph = weight.size(2);
        int pw = weight.size(3);
        embed(
                x.unsqueeze(2),
                weight,
                bias,
                out,
                new int[] {1, ph, pw},
                new int[] {1, x.size(2) / ph, x.size(3) / pw},
                x.size(0),
                x.size(1));
    }

    @Override
    public void patchEmbed3d(Tensor x, Tensor weight, Tensor bias, Tensor out) {
        org.tessera.engine.backend.OpChecks.patchEmbed("patchEmbed3d", x, weight, bias, out, 3);
        int[] k = {weight.size(2), weight.size(3), weight.size(4)};
        int[] o = {x.size(2) / k[0], x.size(3) / k[1], x.size(4) / k[2]};
        embed(x, weight, bias, out, k, o, x.size(0), x.size(1));
    }

    /** Stride = kernel, no padding: tokens [n, od·oh·ow, D] = im2col(x) · W[D, c·k]ᵀ + bias. */
    private void embed(Tensor x5, Tensor weight, Tensor bias, Tensor out, int[] k, int[] o, int n, int c) {
        int d = weight.size(0);
        int width = c * k[0] * k[1] * k[2];
        long rows = (long) n * o[0] * o[1] * o[2];
        if (out.numel() != rows * d || !out.isContiguous()) {
            throw new ShapeMismatchException("patchEmbed on CUDA: out must be contiguous [" + n + ", " + (rows / n)
                    + ", " + d + "], got " + java.util.Arrays.toString(out.shape()));
        }
        Tensor colBuf = buffer(cols, rows * width, true)
                .slice(0, 0, Math.toIntExact(rows * width))
                .reshape(Math.toIntExact(rows), width);
        CudaData.im2col(dev, x5, k, k, new int[3], o, colBuf);
        Tensor w2 = weight.reshape(d, width);
        gemm.gemm(colBuf, w2.t(), out.reshape(Math.toIntExact(rows), d), 1f, 0f, Epilogue.of(bias, Activation.NONE));
    }

    @Override
    public void conv2d(Tensor x, Tensor weight, Tensor bias, int stride, int padding, Tensor out) {
        org.tessera.engine.backend.OpChecks.conv2d(x, weight, bias, stride, padding, out);
        int n = x.size(0);
        int c = x.size(1);
        int o = weight.size(0);
        int kh = weight.size(2);
        int kw = weight.size(3);
        int ho = out.size(2);
        int wo = out.size(3);
        int width = c * kh * kw;
        int rows = n * ho * wo;
        Tensor colBuf = buffer(cols, (long) rows * width, true)
                .slice(0, 0, rows * width)
                .reshape(rows, width);
        CudaData.im2col(
                dev,
                x.unsqueeze(2),
                new int[] {1, kh, kw},
                new int[] {1, stride, stride},
                new int[] {0, padding, padding},
                new int[] {1, ho, wo},
                colBuf);
        // GEMM into [n, ho·wo, o], then permute into [n, o, ho, wo].
        Tensor tmp =
                buffer(staging, (long) rows * o, false).slice(0, 0, rows * o).reshape(rows, o);
        gemm.gemm(colBuf, weight.reshape(o, width).t(), tmp, 1f, 0f, Epilogue.of(bias, Activation.NONE));
        CudaData.copy(dev, tmp.reshape(n, ho * wo, o).permute(0, 2, 1).reshape(n, o, ho, wo), out);
    }

    @Override
    public void upsampleNearest2d(Tensor x, int factor, Tensor out) {
        org.tessera.engine.backend.OpChecks.upsampleNearest2d(x, factor, out);
        dev.args()
                .i64(x.size(0))
                .i64(x.size(1))
                .i64(x.size(2))
                .i64(x.size(3))
                .i64(factor)
                .i64(x.stride(0))
                .i64(x.stride(1))
                .i64(x.stride(2))
                .i64(x.stride(3))
                .ptr(CudaDevice.address(x))
                .ptr(CudaDevice.address(out));
        dev.launch1d("data.cu", "upsample_nearest_f32", out.numel());
    }
}
