package org.tessera.engine.graph;

import static org.tessera.engine.graph.ShapeRules.dims;
import static org.tessera.engine.graph.ShapeRules.f32;
import static org.tessera.engine.graph.ShapeRules.mismatch;
import static org.tessera.engine.graph.ShapeRules.vector;

import java.util.List;
import org.tessera.engine.backend.Backend;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Tensor;

/** Convolutions: patch embeddings, general 2-D convolution, upsampling. Each record is one op's whole definition; see {@link Op}. */
public final class ConvolutionOps {
    private ConvolutionOps() {}

    /** Patch embedding over 2 or 3 spatial dims; inputs x, weight, then bias when present. */
    public record PatchEmbed(int spatialDims, boolean hasBias) implements Op {
        public String kind() {
            return "patchEmbed" + spatialDims + "d";
        }

        @Override
        public Gradient gradient() {
            return (g, n, dy) -> Gradients.patchEmbed(g, n, dy, spatialDims, hasBias);
        }

        /** As its GEMM: 2 · output elements · (weight elements per output channel). */
        @Override
        public long flops(Node n) {
            return 2 * n.output().numel() * (n.input(1).numel() / n.input(1).size(0));
        }

        @Override
        public boolean needsContiguous(int slot) {
            return slot >= 1;
        }

        @Override
        public Runnable kernel(KernelArgs k) {
            Tensor[] in = k.in();
            Tensor out = k.out();
            Backend backend = k.backend();
            Tensor bias = hasBias ? in[2] : null;
            return spatialDims == 2
                    ? () -> backend.conv().patchEmbed2d(in[0], in[1], bias, out)
                    : () -> backend.conv().patchEmbed3d(in[0], in[1], bias, out);
        }

        /** x [N, C, …] and weight [D, C, …] of equal rank (2 + spatialDims) → tokens [N, patches, D]. */
        @Override
        public OutputType infer(List<Value> in) {
            String op = kind();
            Value x = in.get(0);
            Value weight = in.get(1);
            Value bias = hasBias ? in.get(2) : null;
            f32(op, x, weight, bias);
            int rank = spatialDims + 2;
            if (x.rank() != rank || weight.rank() != rank || x.size(1) != weight.size(1)) {
                throw mismatch(
                        op,
                        "input " + dims(x) + " and weight " + dims(weight) + " must be " + rank
                                + "-D with equal channels");
            }
            int tokens = 1;
            String[] axes =
                    spatialDims == 3 ? new String[] {"frames", "height", "width"} : new String[] {"height", "width"};
            for (int i = 2; i < rank; i++) {
                if (weight.size(i) == 0 || x.size(i) % weight.size(i) != 0) {
                    throw mismatch(
                            op,
                            axes[i - 2] + " " + x.size(i) + " is not a multiple of the patch's " + weight.size(i)
                                    + " (input " + dims(x) + ", weight " + dims(weight) + ")");
                }
                tokens *= x.size(i) / weight.size(i);
            }
            vector(op, "bias", bias, weight.size(0), weight);
            return new OutputType(new int[] {x.size(0), tokens, weight.size(0)}, DType.F32);
        }
    }

    /** 2-D convolution; inputs x, weight, then bias when present. */
    public record Conv2d(int stride, int padding, boolean hasBias) implements Op {
        public String kind() {
            return "conv2d";
        }

        @Override
        public Gradient gradient() {
            return (g, n, dy) -> Gradients.conv2d(g, n, dy, stride, padding, hasBias);
        }

        public String attributes() {
            return "stride=" + stride + " padding=" + padding;
        }

        /** As its GEMM: 2 · output elements · (weight elements per output channel). */
        @Override
        public long flops(Node n) {
            return 2 * n.output().numel() * (n.input(1).numel() / n.input(1).size(0));
        }

        @Override
        public boolean needsContiguous(int slot) {
            return slot >= 1;
        }

        @Override
        public Runnable kernel(KernelArgs k) {
            Tensor[] in = k.in();
            Tensor out = k.out();
            Backend backend = k.backend();
            Tensor bias = hasBias ? in[2] : null;
            return () -> backend.conv().conv2d(in[0], in[1], bias, stride, padding, out);
        }

        /** x [N, C, H, W], weight [O, C, kh, kw], bias [O] → [N, O, Ho, Wo]. */
        @Override
        public OutputType infer(List<Value> in) {
            String op = kind();
            Value x = in.get(0);
            Value weight = in.get(1);
            Value bias = hasBias ? in.get(2) : null;
            f32(op, x, weight, bias);
            if (x.rank() != 4 || weight.rank() != 4 || x.size(1) != weight.size(1) || stride < 1 || padding < 0) {
                throw mismatch(
                        op,
                        "input " + dims(x) + " [N, C, H, W] and weight " + dims(weight) + " [O, C, kh, kw] with stride "
                                + stride + " and padding " + padding + " do not fit");
            }
            int hp = x.size(2) + 2 * padding - weight.size(2);
            int wp = x.size(3) + 2 * padding - weight.size(3);
            if (hp < 0 || wp < 0 || weight.size(2) == 0 || weight.size(3) == 0) {
                throw mismatch(
                        op,
                        "kernel of weight " + dims(weight) + " does not fit input " + dims(x) + " padded by "
                                + padding);
            }
            vector(op, "bias", bias, weight.size(0), weight);
            return new OutputType(new int[] {x.size(0), weight.size(0), hp / stride + 1, wp / stride + 1}, DType.F32);
        }
    }

    /** Nearest-neighbour 2-D upsampling. */
    public record UpsampleNearest2d(int factor) implements Op {
        public String kind() {
            return "upsampleNearest2d";
        }

        @Override
        public Gradient gradient() {
            return (g, n, dy) -> Gradients.upsampleNearest(g, n, dy, factor);
        }

        public String attributes() {
            return "factor=" + factor;
        }

        @Override
        public Runnable kernel(KernelArgs k) {
            Tensor[] in = k.in();
            Tensor out = k.out();
            Backend backend = k.backend();
            return () -> backend.conv().upsampleNearest2d(in[0], factor, out);
        }

        /** x [N, C, H, W] → [N, C, H·factor, W·factor]. */
        @Override
        public OutputType infer(List<Value> in) {
            Value x = in.get(0);
            f32(kind(), x);
            if (x.rank() != 4 || factor < 1) {
                throw mismatch(
                        kind(), "input " + dims(x) + " must be [N, C, H, W] and factor " + factor + " at least 1");
            }
            return new OutputType(new int[] {x.size(0), x.size(1), x.size(2) * factor, x.size(3) * factor}, DType.F32);
        }
    }

    /**
     * The patches a 2-D convolution multiplies, for its gradient: x [N, C, H, W] →
     * [N, Ho·Wo, C·kh·kw], patch (oy, ox) holding x[c, oy·s − p + ky, ox·s − p + kx] in (c, ky, kx)
     * order (0 outside x), so that the convolution is patches · W[O, C·kh·kw]ᵀ. A host loop: training
     * runs on the CPU.
     */
    public record Im2Col(int kh, int kw, int stride, int padding) implements Op {
        public String kind() {
            return "im2col";
        }

        public String attributes() {
            return kh + "x" + kw + " stride=" + stride + " padding=" + padding;
        }

        @Override
        public boolean needsContiguous(int slot) {
            return true;
        }

        @Override
        public OutputType infer(List<Value> in) {
            Value x = in.get(0);
            f32(kind(), x);
            int[] o = outSize(kind(), x.shape(), kh, kw, stride, padding);
            return new OutputType(new int[] {x.size(0), o[0] * o[1], x.size(1) * kh * kw}, DType.F32);
        }

        @Override
        public Runnable kernel(KernelArgs k) {
            Tensor x = k.in()[0];
            Tensor out = k.out();
            return () -> copyPatches(x, out, kh, kw, stride, padding, false);
        }

        @Override
        public Runnable deviceKernel(KernelArgs k) {
            return GradientOps.onHostOnly(kind());
        }

        @Override
        public Gradient gradient() {
            return (g, n, dy) -> List.of(g.apply(new Col2Im(n.input(0).shape(), kh, kw, stride, padding), List.of(dy)));
        }
    }

    /**
     * The adjoint of {@link Im2Col}: patches [N, Ho·Wo, C·kh·kw] summed back into x's shape
     * [N, C, H, W] (each position receives every patch element that was copied from it).
     */
    public record Col2Im(int[] shape, int kh, int kw, int stride, int padding) implements Op {
        public Col2Im {
            shape = shape.clone();
        }

        public String kind() {
            return "col2im";
        }

        public String attributes() {
            return org.tessera.engine.tensor.Shapes.toString(shape) + " " + kh + "x" + kw + " stride=" + stride
                    + " padding=" + padding;
        }

        @Override
        public boolean needsContiguous(int slot) {
            return true;
        }

        @Override
        public OutputType infer(List<Value> in) {
            Value cols = in.get(0);
            f32(kind(), cols);
            int[] o = outSize(kind(), shape, kh, kw, stride, padding);
            if (cols.rank() != 3
                    || cols.size(0) != shape[0]
                    || cols.size(1) != o[0] * o[1]
                    || cols.size(2) != shape[1] * kh * kw) {
                throw mismatch(
                        kind(),
                        "patches " + dims(cols) + " do not fit " + org.tessera.engine.tensor.Shapes.toString(shape));
            }
            return new OutputType(shape, DType.F32);
        }

        @Override
        public Runnable kernel(KernelArgs k) {
            Tensor cols = k.in()[0];
            Tensor x = k.out();
            return () -> {
                x.storage().asSlice(x.byteOffset(), 4L * x.numel()).fill((byte) 0);
                copyPatches(x, cols, kh, kw, stride, padding, true);
            };
        }

        @Override
        public Runnable deviceKernel(KernelArgs k) {
            return GradientOps.onHostOnly(kind());
        }
    }

    /** Ho and Wo of a convolution of x [N, C, H, W] with a kh×kw kernel. */
    private static int[] outSize(String op, int[] x, int kh, int kw, int stride, int padding) {
        if (x.length != 4 || kh < 1 || kw < 1 || stride < 1 || padding < 0) {
            throw mismatch(op, "input " + org.tessera.engine.tensor.Shapes.toString(x) + " must be [N, C, H, W]");
        }
        int hp = x[2] + 2 * padding - kh;
        int wp = x[3] + 2 * padding - kw;
        if (hp < 0 || wp < 0) {
            throw mismatch(
                    op, "a " + kh + "x" + kw + " kernel does not fit " + org.tessera.engine.tensor.Shapes.toString(x));
        }
        return new int[] {hp / stride + 1, wp / stride + 1};
    }

    /**
     * Walks every (patch, element) pair of x [N, C, H, W] and cols [N, Ho·Wo, C·kh·kw]: copies x
     * into cols, or with {@code accumulate} adds cols into x (the adjoint).
     */
    private static void copyPatches(
            Tensor x, Tensor cols, int kh, int kw, int stride, int padding, boolean accumulate) {
        java.lang.foreign.ValueLayout.OfFloat f = java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED;
        int n = x.size(0);
        int c = x.size(1);
        int h = x.size(2);
        int w = x.size(3);
        int ho = (h + 2 * padding - kh) / stride + 1;
        int wo = (w + 2 * padding - kw) / stride + 1;
        java.lang.foreign.MemorySegment xs = x.storage();
        java.lang.foreign.MemorySegment cs = cols.storage();
        long xb = x.byteOffset();
        long cb = cols.byteOffset();
        int row = c * kh * kw;
        for (int b = 0; b < n; b++) {
            for (int oy = 0; oy < ho; oy++) {
                for (int ox = 0; ox < wo; ox++) {
                    long patch = cb + 4L * (((long) b * ho * wo + (long) oy * wo + ox) * row);
                    int e = 0;
                    for (int ch = 0; ch < c; ch++) {
                        for (int ky = 0; ky < kh; ky++) {
                            int y = oy * stride - padding + ky;
                            for (int kx = 0; kx < kw; kx++, e++) {
                                int xx = ox * stride - padding + kx;
                                boolean inside = y >= 0 && y < h && xx >= 0 && xx < w;
                                long at = xb + 4L * ((((long) b * c + ch) * h + y) * w + xx);
                                if (accumulate) {
                                    if (inside) {
                                        xs.set(f, at, xs.get(f, at) + cs.get(f, patch + 4L * e));
                                    }
                                } else {
                                    cs.set(f, patch + 4L * e, inside ? xs.get(f, at) : 0f);
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
