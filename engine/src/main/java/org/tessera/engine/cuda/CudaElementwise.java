package org.tessera.engine.cuda;

import org.tessera.engine.backend.Activation;
import org.tessera.engine.backend.ElementwiseOps;
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
        requireOut(name, out);
        int[] shape = Shapes.broadcast(name, a.shape(), b.shape());
        if (!java.util.Arrays.equals(shape, out.shape())) {
            throw new ShapeMismatchException(name + ": inputs " + Shapes.toString(a.shape()) + " and "
                    + Shapes.toString(b.shape()) + " broadcast to " + Shapes.toString(shape) + ", out is "
                    + Shapes.toString(out.shape()));
        }
        dev.args().i32(code).i64(out.numel()).struct(KernelStrides.of(name, shape, a, b))
                .ptr(CudaDevice.address(a)).ptr(CudaDevice.address(b)).ptr(CudaDevice.address(out));
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
        requireOut("axpby", out);
        requireShape("axpby", x, out);
        requireShape("axpby", y, out);
        dev.args().i64(out.numel()).struct(KernelStrides.of("axpby", out.shape(), x, y)).f32(alpha)
                .ptr(CudaDevice.address(x)).f32(beta).ptr(CudaDevice.address(y)).ptr(CudaDevice.address(out));
        dev.launch1d(FILE, "axpby_f32", out.numel());
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
        requireOut("activate", out);
        requireShape("activate", x, out);
        dev.args().i32(activation.ordinal()).i64(out.numel()).struct(KernelStrides.of("activate", out.shape(), x))
                .ptr(CudaDevice.address(x)).ptr(CudaDevice.address(out));
        dev.launch1d(FILE, "activate_f32", out.numel());
    }

    @Override
    public void modulate(Tensor x, Tensor shift, Tensor scale, Tensor out) {
        requireOut("modulate", out);
        requireShape("modulate", x, out);
        dev.args().i64(out.numel()).struct(KernelStrides.of("modulate", out.shape(), x, shift, scale))
                .ptr(CudaDevice.address(x)).ptr(CudaDevice.address(shift)).ptr(CudaDevice.address(scale))
                .ptr(CudaDevice.address(out));
        dev.launch1d(FILE, "modulate_f32", out.numel());
    }

    /** The epilogue cuBLAS did not fuse: c = act(c + bias) over a [rows, cols] matrix with row stride ldc. */
    void biasActivate(Tensor c, Tensor bias, Activation activation) {
        dev.args().i64(c.size(0)).i64(c.size(1)).i64(c.stride(0)).ptr(CudaDevice.address(bias)).i32(activation.ordinal())
                .ptr(CudaDevice.address(c));
        dev.launch1d(FILE, "bias_activate_f32", c.numel());
    }

    static void requireOut(String op, Tensor out) {
        if (out.dtype() != DType.F32 || !out.isContiguous()) {
            throw new ShapeMismatchException(op + ": out must be a contiguous f32 tensor, got " + out.dtype().shortName()
                    + Shapes.toString(out.shape()));
        }
    }

    private static void requireShape(String op, Tensor x, Tensor out) {
        if (!x.sameShape(out)) {
            throw new ShapeMismatchException(op + ": input " + Shapes.toString(x.shape()) + " and out "
                    + Shapes.toString(out.shape()) + " differ");
        }
    }
}
