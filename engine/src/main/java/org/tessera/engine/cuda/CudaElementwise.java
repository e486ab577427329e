package org.tessera.engine.cuda;

import org.tessera.engine.backend.Activation;
import org.tessera.engine.backend.ElementwiseOps;
import org.tessera.engine.backend.OpChecks;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.ShapeMismatchException;
import org.tessera.engine.tensor.Shapes;
import org.tessera.engine.tensor.Tensor;

/** Pointwise ops as grid-stride kernels over strided, broadcast views (elementwise.cu). */
final class CudaElementwise implements ElementwiseOps {
    private static final String FILE = "elementwise.cu";
    private final CudaDevice dev;

    CudaElementwise(CudaDevice dev) {
        this.dev = dev;
    }

    private void binary(String name, int code, Tensor a, Tensor b, Tensor out) {
        OpChecks.broadcastBinary(name, a, b, out);
        int[] shape = out.shape();
        dev.args()
                .i32(code)
                .i64(out.numel())
                .struct(KernelStrides.of(name, shape, a, b))
                .ptr(CudaDevice.address(a))
                .ptr(CudaDevice.address(b))
                .ptr(CudaDevice.address(out));
        dev.launch1d(FILE, "binary_f32", out.numel());
    }

    @Override
    public void add(Tensor a, Tensor b, Tensor out) {
        binary("add", 0, a, b, out);
    }

    @Override
    public void sub(Tensor a, Tensor b, Tensor out) {
        binary("sub", 1, a, b, out);
    }

    @Override
    public void mul(Tensor a, Tensor b, Tensor out) {
        binary("mul", 2, a, b, out);
    }

    @Override
    public void div(Tensor a, Tensor b, Tensor out) {
        binary("div", 3, a, b, out);
    }

    @Override
    public void axpby(float alpha, Tensor x, float beta, Tensor y, Tensor out) {
        OpChecks.pointwise("axpby", x, out);
        OpChecks.pointwise("axpby", y, out);
        dev.args()
                .i64(out.numel())
                .struct(KernelStrides.of("axpby", out.shape(), x, y))
                .f32(alpha)
                .ptr(CudaDevice.address(x))
                .f32(beta)
                .ptr(CudaDevice.address(y))
                .ptr(CudaDevice.address(out));
        dev.launch1d(FILE, "axpby_f32", out.numel());
    }

    @Override
    public void clamp(Tensor x, float lo, float hi, Tensor out) {
        OpChecks.pointwise("clamp", x, out);
        if (!(lo <= hi)) {
            throw new IllegalArgumentException("clamp: min " + lo + " must not exceed max " + hi);
        }
        dev.args()
                .i64(out.numel())
                .struct(KernelStrides.of("clamp", out.shape(), x))
                .f32(lo)
                .f32(hi)
                .ptr(CudaDevice.address(x))
                .ptr(CudaDevice.address(out));
        dev.launch1d(FILE, "clamp_f32", out.numel());
    }

    @Override
    public void gelu(Tensor x, Tensor out) {
        activate(Activation.GELU_TANH, x, out);
    }

    @Override
    public void silu(Tensor x, Tensor out) {
        activate(Activation.SILU, x, out);
    }

    @Override
    public void activate(Activation activation, Tensor x, Tensor out) {
        OpChecks.pointwise(activation.name().toLowerCase(java.util.Locale.ROOT), x, out);
        dev.args()
                .i32(activation.ordinal())
                .i64(out.numel())
                .struct(KernelStrides.of("activate", out.shape(), x))
                .ptr(CudaDevice.address(x))
                .ptr(CudaDevice.address(out));
        dev.launch1d(FILE, "activate_f32", out.numel());
    }

    @Override
    public void modulate(Tensor x, Tensor shift, Tensor scale, Tensor out) {
        OpChecks.pointwise("modulate", x, out);
        OpChecks.broadcastsTo("modulate", "shift", shift, x);
        OpChecks.broadcastsTo("modulate", "scale", scale, x);
        dev.args()
                .i64(out.numel())
                .struct(KernelStrides.of("modulate", out.shape(), x, shift, scale))
                .ptr(CudaDevice.address(x))
                .ptr(CudaDevice.address(shift))
                .ptr(CudaDevice.address(scale))
                .ptr(CudaDevice.address(out));
        dev.launch1d(FILE, "modulate_f32", out.numel());
    }

    /** The epilogue cuBLAS did not fuse: c = act(c + bias) over a [rows, cols] matrix with row stride ldc. */
    void biasActivate(Tensor c, Tensor bias, Activation activation) {
        dev.args()
                .i64(c.size(0))
                .i64(c.size(1))
                .i64(c.stride(0))
                .ptr(CudaDevice.address(bias))
                .i32(activation.ordinal())
                .ptr(CudaDevice.address(c));
        dev.launch1d(FILE, "bias_activate_f32", c.numel());
    }

    static void requireOut(String op, Tensor out) {
        if (out.dtype() != DType.F32 || !out.isContiguous()) {
            throw new ShapeMismatchException(op + ": out must be a contiguous f32 tensor, got "
                    + out.dtype().shortName() + Shapes.toString(out.shape()));
        }
    }
}
