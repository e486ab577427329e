package org.tessera.engine.graph;

import static org.tessera.engine.graph.ShapeRules.broadcastsTo;
import static org.tessera.engine.graph.ShapeRules.dims;
import static org.tessera.engine.graph.ShapeRules.f32;
import static org.tessera.engine.graph.ShapeRules.mismatch;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import org.tessera.engine.backend.Activation;
import org.tessera.engine.backend.BackwardOps;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Tensor;

/**
 * The ops that backward passes add ({@link Autodiff}): a reduction that undoes broadcasting, and
 * the derivatives of activations and normalisations that are cheaper as one op than composed.
 * Their kernels are plain loops over row-major host memory, accumulating in double; they run on
 * the CPU (training on a GPU is not there yet, and says so).
 */
public final class GradientOps {
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;

    private GradientOps() {}

    /**
     * Sums {@code x} down to {@code shape}, a shape that broadcasts to x's (trailing dims aligned):
     * the adjoint of broadcasting, {@code out[j] = Σ x[i]} over the i that broadcasting maps to j.
     * The gradient of a bias, of a broadcast operand, and a loss's sum.
     */
    public record SumTo(int[] shape) implements Op {
        public SumTo {
            shape = shape.clone();
        }

        public String kind() {
            return "sum_to";
        }

        public String attributes() {
            return org.tessera.engine.tensor.Shapes.toString(shape);
        }

        @Override
        public OutputType infer(List<Value> in) {
            Value x = in.get(0);
            f32(kind(), x);
            if (!broadcastsTo(shape, x.shape())) {
                throw mismatch(
                        kind(), org.tessera.engine.tensor.Shapes.toString(shape) + " does not broadcast to " + dims(x));
            }
            return new OutputType(shape, DType.F32);
        }

        @Override
        public boolean needsContiguous(int slot) {
            return true;
        }

        @Override
        public long flops(Node n) {
            return n.input(0).numel();
        }

        @Override
        public Runnable kernel(KernelArgs k) {
            Tensor x = k.in()[0];
            Tensor out = k.out();
            BackwardOps backward = k.backend().backward();
            return () -> backward.sumTo(x, out);
        }

        @Override
        public Runnable deviceKernel(KernelArgs k) {
            return onHostOnly(kind());
        }

        @Override
        public Gradient gradient() {
            return Gradients::sumTo;
        }
    }

    /**
     * {@code g · act'(pre)}: inputs pre (the activation's input) and g (the gradient of its output).
     * GELU-tanh: ½(1 + tanh u) + ½x(1 − tanh² u)·√(2/π)(1 + 3·0.044715x²), u = √(2/π)(x + 0.044715x³);
     * SiLU: σ(x)(1 + x(1 − σ(x))).
     */
    public record ActivateGrad(Activation activation) implements Op {
        public String kind() {
            return "activate_grad";
        }

        public String attributes() {
            return activation.name();
        }

        @Override
        public OutputType infer(List<Value> in) {
            return sameShapes(kind(), "pre", "g", in);
        }

        @Override
        public boolean needsContiguous(int slot) {
            return true;
        }

        @Override
        public long flops(Node n) {
            return 10 * n.output().numel();
        }

        @Override
        public Runnable kernel(KernelArgs k) {
            Tensor pre = k.in()[0];
            Tensor g = k.in()[1];
            Tensor out = k.out();
            BackwardOps backward = k.backend().backward();
            return () -> backward.activationGrad(activation, pre, g, out);
        }

        @Override
        public Runnable deviceKernel(KernelArgs k) {
            return onHostOnly(kind());
        }
    }

    /**
     * The gradient of layer normalisation over the last dimension (before the affine): inputs x
     * and gy (the gradient with respect to the normalised x̂, the weight already applied). With
     * x̂ = (x − μ)/σ and n the row length,
     * {@code dx = (gy − mean(gy) − x̂·mean(gy·x̂)) / σ}, σ = √(var + eps) as the forward computes it.
     */
    public record LayerNormGrad(float eps) implements Op {
        public String kind() {
            return "layernorm_grad";
        }

        @Override
        public OutputType infer(List<Value> in) {
            return sameShapes(kind(), "x", "gy", in);
        }

        @Override
        public boolean needsContiguous(int slot) {
            return true;
        }

        @Override
        public long flops(Node n) {
            return 10 * n.output().numel();
        }

        @Override
        public Runnable kernel(KernelArgs k) {
            Tensor x = k.in()[0];
            Tensor gy = k.in()[1];
            Tensor out = k.out();
            BackwardOps backward = k.backend().backward();
            return () -> backward.layerNormGrad(x, gy, eps, out);
        }

        @Override
        public Runnable deviceKernel(KernelArgs k) {
            return onHostOnly(kind());
        }
    }

    /**
     * ∂clamp(x, lo, hi)/∂x · g: g where lo ≤ x ≤ hi, 0 where x was clamped (and where it is NaN),
     * as {@code torch.clamp}'s backward.
     */
    public record ClampGrad(float lo, float hi) implements Op {
        public String kind() {
            return "clamp_grad";
        }

        public String attributes() {
            return "[" + lo + ", " + hi + "]";
        }

        @Override
        public OutputType infer(List<Value> in) {
            return sameShapes(kind(), "x", "g", in);
        }

        @Override
        public boolean needsContiguous(int slot) {
            return true;
        }

        @Override
        public Runnable kernel(KernelArgs k) {
            Tensor x = k.in()[0];
            Tensor g = k.in()[1];
            Tensor out = k.out();
            return () -> {
                MemorySegment xs = x.storage();
                MemorySegment gs = g.storage();
                MemorySegment os = out.storage();
                for (long i = 0, n = x.numel(); i < n; i++) {
                    float v = xs.get(F, x.byteOffset() + 4 * i);
                    os.set(F, out.byteOffset() + 4 * i, v >= lo && v <= hi ? gs.get(F, g.byteOffset() + 4 * i) : 0f);
                }
            };
        }

        @Override
        public Runnable deviceKernel(KernelArgs k) {
            return onHostOnly(kind());
        }
    }

    /**
     * Segment ids [B, N] (integer) as the additive mask of segmented attention, [B, 1, N, N]: 0
     * where query i and key j share a segment, −∞ elsewhere (a packed row's examples never attend
     * to each other). The gradient of segmented attention adds it to the scores.
     */
    public record SegmentMask() implements Op {
        public String kind() {
            return "segment_mask";
        }

        @Override
        public OutputType infer(List<Value> in) {
            Value ids = in.get(0);
            if (ids.rank() != 2 || ids.dtype().isFloatingPoint()) {
                throw mismatch(kind(), "segment ids " + dims(ids) + " must be integer [B, N]");
            }
            return new OutputType(new int[] {ids.size(0), 1, ids.size(1), ids.size(1)}, DType.F32);
        }

        @Override
        public boolean needsContiguous(int slot) {
            return true;
        }

        @Override
        public Runnable kernel(KernelArgs k) {
            Tensor ids = k.in()[0];
            Tensor out = k.out();
            int batch = ids.size(0);
            int n = ids.size(1);
            return () -> {
                MemorySegment os = out.storage();
                for (int b = 0; b < batch; b++) {
                    for (int i = 0; i < n; i++) {
                        long si = integerAt(ids, (long) b * n + i);
                        long row = out.byteOffset() + 4L * ((long) b * n + i) * n;
                        for (int j = 0; j < n; j++) {
                            os.set(
                                    F,
                                    row + 4L * j,
                                    si == integerAt(ids, (long) b * n + j) ? 0f : Float.NEGATIVE_INFINITY);
                        }
                    }
                }
            };
        }

        @Override
        public Runnable deviceKernel(KernelArgs k) {
            return onHostOnly(kind());
        }
    }

    /**
     * The gradient of softmax over the last dimension from its output: inputs y = softmax(x) and g,
     * {@code dx = y ⊙ (g − Σ_j g_j y_j)} row by row.
     */
    public record SoftmaxGrad() implements Op {
        public String kind() {
            return "softmax_grad";
        }

        @Override
        public OutputType infer(List<Value> in) {
            return sameShapes(kind(), "y", "g", in);
        }

        @Override
        public boolean needsContiguous(int slot) {
            return true;
        }

        @Override
        public long flops(Node n) {
            return 4 * n.output().numel();
        }

        @Override
        public Runnable kernel(KernelArgs k) {
            Tensor y = k.in()[0];
            Tensor g = k.in()[1];
            Tensor out = k.out();
            BackwardOps backward = k.backend().backward();
            return () -> backward.softmaxGrad(y, g, out);
        }

        @Override
        public Runnable deviceKernel(KernelArgs k) {
            return onHostOnly(kind());
        }
    }

    /**
     * The gradient of an embedding table [V, D] from integer ids [B...] and g [B..., D]: each
     * id's rows of g summed into its row, {@code dT[id] = Σ_{i: ids[i] = id} g[i]} (a scatter-add).
     */
    public record EmbeddingGrad(int rows) implements Op {
        public String kind() {
            return "embedding_grad";
        }

        @Override
        public OutputType infer(List<Value> in) {
            Value ids = in.get(0);
            Value g = in.get(1);
            f32(kind(), g);
            if (ids.dtype().isFloatingPoint() || g.rank() != ids.rank() + 1) {
                throw mismatch(kind(), "ids " + dims(ids) + " must be integers and g " + dims(g) + " [ids..., D]");
            }
            return new OutputType(new int[] {rows, g.size(-1)}, DType.F32);
        }

        @Override
        public boolean needsContiguous(int slot) {
            return true;
        }

        @Override
        public Runnable kernel(KernelArgs k) {
            Tensor ids = k.in()[0];
            Tensor g = k.in()[1];
            Tensor out = k.out();
            int d = g.size(-1);
            double[] acc = new double[rows * d];
            return () -> {
                java.util.Arrays.fill(acc, 0);
                MemorySegment gs = g.storage();
                for (long i = 0, n = ids.numel(); i < n; i++) {
                    long id = integerAt(ids, i);
                    if (id < 0 || id >= rows) {
                        throw new IllegalArgumentException(
                                kind() + ": id " + id + " outside the table's " + rows + " rows");
                    }
                    long gb = g.byteOffset() + 4 * i * d;
                    for (int j = 0; j < d; j++) {
                        acc[(int) id * d + j] += gs.get(F, gb + 4L * j);
                    }
                }
                write(out, acc);
            };
        }

        @Override
        public Runnable deviceKernel(KernelArgs k) {
            return onHostOnly(kind());
        }
    }

    /**
     * The cross-entropy of each row of logits [N, K] against integer labels [N]:
     * {@code loss_n = log Σ_k exp(z_nk) − z_n,label} (log-sum-exp taken from the row's maximum, in
     * double), the classifier loss. Its gradient is {@link CrossEntropyGrad}.
     */
    public record CrossEntropy() implements Op {
        public String kind() {
            return "cross_entropy";
        }

        @Override
        public OutputType infer(List<Value> in) {
            Value z = in.get(0);
            Value labels = in.get(1);
            f32(kind(), z);
            if (z.rank() != 2
                    || labels.rank() != 1
                    || labels.size(0) != z.size(0)
                    || labels.dtype().isFloatingPoint()) {
                throw mismatch(
                        kind(), "logits " + dims(z) + " must be [N, K] and labels " + dims(labels) + " integer [N]");
            }
            return new OutputType(new int[] {z.size(0)}, DType.F32);
        }

        @Override
        public boolean needsContiguous(int slot) {
            return true;
        }

        @Override
        public Runnable kernel(KernelArgs k) {
            Tensor z = k.in()[0];
            Tensor labels = k.in()[1];
            Tensor out = k.out();
            int n = z.size(0);
            int classes = z.size(1);
            double[] loss = new double[n];
            return () -> {
                MemorySegment zs = z.storage();
                for (int r = 0; r < n; r++) {
                    long zb = z.byteOffset() + 4L * r * classes;
                    int label = label(labels, r, classes, kind());
                    loss[r] = logSumExp(zs, zb, classes) - zs.get(F, zb + 4L * label);
                }
                write(out, loss);
            };
        }

        @Override
        public Runnable deviceKernel(KernelArgs k) {
            return onHostOnly(kind());
        }

        @Override
        public Gradient gradient() {
            return (graph, node, g) -> java.util.Arrays.asList(
                    graph.apply(new CrossEntropyGrad(), List.of(node.input(0), node.input(1), g)), null);
        }
    }

    /** ∂loss/∂logits of {@link CrossEntropy}: {@code (softmax(z_n) − onehot(label_n)) · g_n}. */
    public record CrossEntropyGrad() implements Op {
        public String kind() {
            return "cross_entropy_grad";
        }

        @Override
        public OutputType infer(List<Value> in) {
            f32(kind(), in.get(0), in.get(2));
            return new OutputType(in.get(0).shape(), DType.F32);
        }

        @Override
        public boolean needsContiguous(int slot) {
            return true;
        }

        @Override
        public Runnable kernel(KernelArgs k) {
            Tensor z = k.in()[0];
            Tensor labels = k.in()[1];
            Tensor g = k.in()[2];
            Tensor out = k.out();
            int n = z.size(0);
            int classes = z.size(1);
            return () -> {
                MemorySegment zs = z.storage();
                MemorySegment gs = g.storage();
                MemorySegment os = out.storage();
                for (int r = 0; r < n; r++) {
                    long zb = z.byteOffset() + 4L * r * classes;
                    long ob = out.byteOffset() + 4L * r * classes;
                    int label = label(labels, r, classes, kind());
                    double gr = gs.get(F, g.byteOffset() + 4L * r);
                    double lse = logSumExp(zs, zb, classes);
                    for (int c = 0; c < classes; c++) {
                        double p = Math.exp(zs.get(F, zb + 4L * c) - lse); // softmax
                        os.set(F, ob + 4L * c, (float) (gr * (p - (c == label ? 1 : 0))));
                    }
                }
            };
        }

        @Override
        public Runnable deviceKernel(KernelArgs k) {
            return onHostOnly(kind());
        }
    }

    /** Element i of a contiguous i64 or i32 tensor (ids, labels). */
    private static long integerAt(Tensor t, long i) {
        return t.dtype() == DType.I64
                ? t.storage().get(ValueLayout.JAVA_LONG_UNALIGNED, t.byteOffset() + 8 * i)
                : t.storage().get(ValueLayout.JAVA_INT_UNALIGNED, t.byteOffset() + 4 * i);
    }

    /** Row r's label, checked against the class count. */
    private static int label(Tensor labels, int r, int classes, String kind) {
        long v = integerAt(labels, r);
        if (v < 0 || v >= classes) {
            throw new IllegalArgumentException(kind + ": label " + v + " of row " + r + " outside 0.." + (classes - 1));
        }
        return (int) v;
    }

    /** Two f32 operands of one shape, the shape of the result: a derivative's input and its gradient. */
    private static OutputType sameShapes(String kind, String first, String second, List<Value> in) {
        f32(kind, in.get(0), in.get(1));
        if (!java.util.Arrays.equals(in.get(0).shape(), in.get(1).shape())) {
            throw mismatch(
                    kind, first + " " + dims(in.get(0)) + " and " + second + " " + dims(in.get(1)) + " must match");
        }
        return new OutputType(in.get(0).shape(), DType.F32);
    }

    /** log Σ_k exp(z_k) of the row of {@code classes} floats at byte {@code row}, from its maximum, in double. */
    private static double logSumExp(MemorySegment z, long row, int classes) {
        double max = Double.NEGATIVE_INFINITY;
        for (int c = 0; c < classes; c++) {
            max = Math.max(max, z.get(F, row + 4L * c));
        }
        double sum = 0;
        for (int c = 0; c < classes; c++) {
            sum += Math.exp(z.get(F, row + 4L * c) - max);
        }
        return max + Math.log(sum);
    }

    /** Writes {@code values} into the row-major tensor {@code out}, rounded to float. */
    private static void write(Tensor out, double[] values) {
        MemorySegment o = out.storage();
        long b = out.byteOffset();
        for (int i = 0; i < values.length; i++) {
            o.set(F, b + 4L * i, (float) values[i]);
        }
    }

    static Runnable onHostOnly(String kind) {
        throw new UnsupportedOperationException(kind + ": training runs on the CPU for now (use --device cpu)");
    }
}
