package org.tessera.engine.cuda;

import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.ShapeMismatchException;
import org.tessera.engine.tensor.Tensor;

/** Data movement on the device (data.cu): strided copies, casts, row gathers, random fills. */
public final class CudaData {
    private static final String FILE = "data.cu";

    private CudaData() {}

    /** dst = src for two views of one shape and dtype (either may be strided or, for src, broadcast). */
    public static void copy(CudaDevice dev, Tensor src, Tensor dst) {
        if (src.dtype() != dst.dtype() || !src.sameShape(dst)) {
            throw new ShapeMismatchException(
                    "copy on CUDA: views of one shape and dtype expected, got " + src + " and " + dst);
        }
        if (dst.numel() == 0) {
            return;
        }
        String kernel = switch (dst.dtype().byteSize()) {
            case 2 -> "copy_b16";
            case 4 -> "copy_b32";
            case 8 -> "copy_b64";
            default ->
                throw new ShapeMismatchException(
                        "copy on CUDA: unsupported dtype " + dst.dtype().shortName());
        };
        dev.args()
                .i64(dst.numel())
                .struct(KernelStrides.of("copy", dst.shape(), src, dst))
                .ptr(CudaDevice.address(src))
                .ptr(CudaDevice.address(dst));
        dev.launch1d(FILE, kernel, dst.numel());
    }

    /**
     * dst = src converted: f32 → bf16 from any view (a GEMM operand), and bf16/f16 → f32,
     * f32 → f16, i64/i32 → f32 between row-major tensors; dst is row-major with src's element count.
     */
    public static void cast(CudaDevice dev, Tensor src, Tensor dst) {
        if (!dst.isContiguous() || src.numel() != dst.numel()) {
            throw new ShapeMismatchException(
                    "cast on CUDA: a row-major destination of the source's size expected, got " + src + " and " + dst);
        }
        if (dst.numel() == 0) {
            return;
        }
        String pair = src.dtype().shortName() + ">" + dst.dtype().shortName();
        if (pair.equals("f32>bf16")) {
            dev.args()
                    .i64(dst.numel())
                    .struct(KernelStrides.of("cast", src.shape(), src))
                    .ptr(CudaDevice.address(src))
                    .ptr(CudaDevice.address(dst));
            dev.launch1d(FILE, "cast_f32_bf16", dst.numel());
            return;
        }
        if (!src.isContiguous()) {
            throw new ShapeMismatchException("cast on CUDA: " + pair + " needs a row-major source, got " + src);
        }
        String kernel = switch (pair) {
            case "bf16>f32" -> "cast_bf16_f32";
            case "f32>f16" -> "cast_f32_f16";
            case "f16>f32" -> "cast_f16_f32";
            case "i64>f32" -> "cast_i64_f32";
            case "i32>f32" -> "cast_i32_f32";
            default ->
                throw new ShapeMismatchException("cast on CUDA: " + src.dtype().shortName() + " to "
                        + dst.dtype().shortName() + " is not supported");
        };
        dev.args().i64(dst.numel()).ptr(CudaDevice.address(src)).ptr(CudaDevice.address(dst));
        dev.launch1d(FILE, kernel, dst.numel());
    }

    /**
     * out[r] = table[ids[r]]: ids [rows] (i64 or i32), table [tableRows, d], out [rows, d], without
     * waiting. A bad id leaves its row + 1 in {@code bad} (an i64 device scalar) for
     * {@link #checkGather} to report later, so that the launch can sit in a captured CUDA graph.
     */
    static void gatherRowsAsync(CudaDevice dev, Tensor ids, Tensor table, Tensor out, Tensor bad) {
        boolean wide = ids.dtype() == DType.I64;
        if (!wide && ids.dtype() != DType.I32 || !ids.isContiguous() || !table.isContiguous() || !out.isContiguous()) {
            throw new ShapeMismatchException("gather on CUDA: contiguous i64/i32 ids, table and out expected");
        }
        long rows = ids.numel();
        int d = table.size(1);
        dev.args()
                .i64(rows)
                .i64(d)
                .ptr(CudaDevice.address(ids))
                .i32(wide ? 1 : 0)
                .i64(table.size(0))
                .ptr(CudaDevice.address(table))
                .ptr(CudaDevice.address(out))
                .ptr(CudaDevice.address(bad));
        dev.launch1d(FILE, "gather_rows_f32", rows * d);
    }

    /** Throws if a gather since the last check saw a bad id, and clears the flag. */
    static void checkGather(CudaDevice dev, Tensor bad, int tableRows) {
        long row = dev.download(bad).toLongArray()[0];
        if (row != 0) {
            org.tessera.ffi.CudaRuntime.memsetZero(CudaDevice.address(bad), 8, dev.stream());
            throw new IndexOutOfBoundsException("embedding: the id at position " + (row - 1)
                    + " is out of range for a table of " + tableRows + " rows");
        }
    }

    /** Fills a row-major f32 device tensor with the counter-based stream (seed, stream) — the CPU's RandomStream. */
    public static void random(CudaDevice dev, long seed, long stream, boolean normal, Tensor out) {
        CudaElementwise.requireOut("random", out);
        long n = out.numel();
        dev.args().i32(normal ? 1 : 0).i64(n).i64(seed).i64(stream).ptr(CudaDevice.address(out));
        dev.launch1d(FILE, "random_f32", (n + 3) / 4);
    }

    /**
     * im2col for a 3-D convolution (2-D: d = kd = 1): x [n, c, d, h, w] as a strided view, into
     * cols [n·od·oh·ow, c·kd·kh·kw].
     */
    static void im2col(CudaDevice dev, Tensor x5, int[] kernel, int[] stride, int[] pad, int[] outDims, Tensor cols) {
        long[] g = new long[5 + 3 + 3 + 3 + 3 + 5];
        for (int i = 0; i < 5; i++) {
            g[i] = x5.size(i);
            g[17 + i] = x5.stride(i);
        }
        for (int i = 0; i < 3; i++) {
            g[5 + i] = kernel[i];
            g[8 + i] = stride[i];
            g[11 + i] = pad[i];
            g[14 + i] = outDims[i];
        }
        dev.args().struct(g).ptr(CudaDevice.address(x5)).ptr(CudaDevice.address(cols));
        dev.launch1d(FILE, "im2col_f32", cols.numel());
    }
}
