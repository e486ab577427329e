package org.tessera.engine.graph;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.Locale;
import org.tessera.engine.backend.Activation;
import org.tessera.engine.backend.AttentionMask;
import org.tessera.engine.backend.Backend;
import org.tessera.engine.backend.ElementwiseOps;
import org.tessera.engine.backend.EmbeddingGather;
import org.tessera.engine.backend.Epilogue;
import org.tessera.engine.backend.MemoryOps;
import org.tessera.engine.backend.OpChecks;
import org.tessera.engine.backend.PackedMatrix;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Shapes;
import org.tessera.engine.tensor.Tensor;

/**
 * What a {@link Node} computes, each op defined once: one record per operation holds its
 * attributes, its FLOP count, its operands' layout needs, its binding to the backend's op
 * families (and, where a device differs, to the device), and a slot for its gradient. Its shape
 * and dtype rule is its {@link GraphBuilder} method. Optional operands (a bias, a norm's weight)
 * are flagged here and simply absent from the node's inputs, so a node's input list never holds
 * nulls.
 */
public sealed interface Op {

    /** The op's name in messages, profiles and dumps, e.g. {@code linear}. */
    String kind();

    /** Attributes for {@link Graph#describe()}, e.g. {@code act=GELU_TANH}; empty when none. */
    default String attributes() {
        return "";
    }

    /** True for ops whose output is a view of their first input (no kernel runs). */
    default boolean isView() {
        return false;
    }

    /** The view a view op makes of its source. */
    default Tensor view(Tensor src) {
        throw new IllegalArgumentException(kind() + " is not a view");
    }

    /**
     * Floating-point operations of one run of {@code node}: 2·M·K·N for products (convolutions
     * as their GEMM), 4·B·H·Nq·Nk·d for attention, a small per-element count for pointwise and
     * normalisation ops; 0 (the default) for copies, views and tables.
     */
    default long flops(Node node) {
        return 0;
    }

    /** Whether operand {@code slot} must be row-major for the kernel (the layout pass copies it otherwise). */
    default boolean needsContiguous(int slot) {
        return false;
    }

    /**
     * The op's binding to the backend's op families: the step computing {@code k.node()} from
     * {@code k.in()} into {@code k.out()}. Everything the step needs (views, broadcast constants,
     * kernel objects) is prepared here, once per execution, so that running it allocates nothing.
     */
    default Runnable kernel(KernelArgs k) {
        throw new IllegalArgumentException(kind() + " nodes have no step");
    }

    /**
     * The binding on a device backend where it differs from {@link #kernel}: steps that move
     * data, read ids or keep a small constant, which on the host are plain Java. Null (the
     * default) when the host binding already goes through the backend's op families.
     */
    default Runnable deviceKernel(KernelArgs k) {
        return null;
    }

    /** The op's gradient rule, for training; null until the training work fills it in. */
    default Gradient gradient() {
        return null;
    }

    // ---------------------------------------------------------------- sources

    /** A graph input, copied into the execution's buffers by {@link Execution#run}. */
    record Input(String name) implements Op {
        public String kind() {
            return "input";
        }

        public String attributes() {
            return "\"" + name + "\"";
        }
    }

    /** A constant tensor: a weight, a table, or the result of constant folding. */
    record Constant(String name, Tensor value) implements Op {
        public String kind() {
            return "constant";
        }

        public String attributes() {
            return "\"" + name + "\"";
        }
    }

    // ---------------------------------------------------------------- compute

    /** {@code act(x·Wᵀ + bias)}: inputs x, weight [out, in], then bias when {@code hasBias}. */
    record Linear(Activation activation, boolean hasBias) implements Op {
        public String kind() {
            return "linear";
        }

        public String attributes() {
            return activation == Activation.NONE ? "" : "act=" + activation;
        }

        @Override
        public long flops(Node n) {
            return 2 * n.output().numel() * n.input(0).size(-1);
        }

        @Override
        public boolean needsContiguous(int slot) {
            return slot == 0 || slot == 2;
        }

        @Override
        public Runnable kernel(KernelArgs k) {
            // The 2-D views and the epilogue are built once here, not per run: linear() would
            // build them on every call.
            Tensor[] in = k.in();
            Backend backend = k.backend();
            Tensor bias = hasBias ? in[2] : null;
            OpChecks.linear(in[0], in[1].size(1), in[1].size(0), k.out());
            Tensor x2 = OpChecks.rows(in[0]);
            Tensor out2 = OpChecks.rows(k.out());
            Epilogue epilogue = Epilogue.of(bias, activation);
            PackedMatrix packed = k.packedWeight();
            if (packed != null) {
                return () -> backend.gemm().gemm(x2, packed, out2, 1f, 0f, epilogue);
            }
            Tensor wt = in[1].t();
            return () -> backend.gemm().gemm(x2, wt, out2, 1f, 0f, epilogue);
        }
    }

    /** [M, K]·[K, N] or batched [B, M, K]·[B, K, N]. */
    record MatMul() implements Op {
        public String kind() {
            return "matmul";
        }

        @Override
        public long flops(Node n) {
            return 2 * n.output().numel() * n.input(0).size(-1);
        }

        @Override
        public Runnable kernel(KernelArgs k) {
            Tensor[] in = k.in();
            Tensor out = k.out();
            Backend backend = k.backend();
            return in[0].rank() == 2
                    ? () -> backend.gemm().matmul(in[0], in[1], out)
                    : () -> backend.gemm().batchedGemm(in[0], in[1], out, 1f, 0f);
        }
    }

    /**
     * softmax(scale·QKᵀ + mask)·V; inputs q, k, v, then integer segment ids [B, N] when
     * {@code segmented}, or an additive f32 mask broadcastable to [B, H, Nq, Nk] when
     * {@code masked} (never both).
     */
    record Attention(float scale, boolean segmented, boolean masked) implements Op {
        public Attention(float scale, boolean segmented) {
            this(scale, segmented, false);
        }

        public String kind() {
            return "attention";
        }

        public String attributes() {
            return "scale=" + scale + (segmented ? " segmented" : "") + (masked ? " masked" : "");
        }

        /** 4·B·H·Nq·Nk·d: the two products QKᵀ and PV. */
        @Override
        public long flops(Node n) {
            Value q = n.input(0);
            Value k = n.input(1);
            return 4L * q.size(0) * q.size(1) * q.size(2) * k.size(2) * q.size(3);
        }

        @Override
        public boolean needsContiguous(int slot) {
            return slot == 3 && segmented;
        }

        /**
         * With segment ids, the mask's id arrays are allocated once and refilled from the ids
         * tensor on every run (self-attention: queries and keys share them).
         */
        @Override
        public Runnable kernel(KernelArgs k) {
            Tensor[] in = k.in();
            Tensor out = k.out();
            Backend backend = k.backend();
            Tensor q = in[0];
            Tensor key = in[1];
            Tensor v = in[2];
            if (masked) {
                AttentionMask mask = new AttentionMask.Additive(in[3]);
                return () -> backend.attention().attention(q, key, v, out, mask, scale);
            }
            if (!segmented) {
                return () -> backend.attention().attention(q, key, v, out, AttentionMask.NONE, scale);
            }
            Tensor ids = in[3];
            int batch = ids.size(0);
            int tokens = ids.size(1);
            int[][] rows = new int[batch][tokens];
            AttentionMask mask = new AttentionMask.Segments(rows, rows);
            MemorySegment seg = ids.storage();
            long base = ids.byteOffset();
            boolean wide = ids.dtype() == DType.I64;
            return () -> {
                for (int b = 0; b < batch; b++) {
                    int[] row = rows[b];
                    for (int j = 0; j < tokens; j++) {
                        long p = (long) b * tokens + j;
                        row[j] = wide
                                ? Math.toIntExact(seg.get(ValueLayout.JAVA_LONG_UNALIGNED, base + 8 * p))
                                : seg.get(ValueLayout.JAVA_INT_UNALIGNED, base + 4 * p);
                    }
                }
                backend.attention().attention(q, key, v, out, mask, scale);
            };
        }

        /** On a device the backend reads the ids tensor itself. */
        @Override
        public Runnable deviceKernel(KernelArgs k) {
            if (!segmented) {
                return null;
            }
            Tensor[] in = k.in();
            Tensor out = k.out();
            Backend backend = k.backend();
            return () -> backend.attention().attention(in[0], in[1], in[2], out, in[3], scale);
        }
    }

    /** LayerNorm over the last dim; inputs x, then weight and bias when present. */
    record LayerNorm(float eps, boolean hasWeight, boolean hasBias) implements Op {
        public String kind() {
            return "layerNorm";
        }

        public String attributes() {
            return "eps=" + eps + (hasWeight ? " weight" : "") + (hasBias ? " bias" : "");
        }

        @Override
        public long flops(Node n) {
            return 5 * n.output().numel();
        }

        @Override
        public boolean needsContiguous(int slot) {
            return true;
        }

        @Override
        public Runnable kernel(KernelArgs k) {
            Tensor[] in = k.in();
            Tensor out = k.out();
            Backend backend = k.backend();
            Tensor w = hasWeight ? in[1] : null;
            Tensor b = hasBias ? in[hasWeight ? 2 : 1] : null;
            return () -> backend.norms().layerNorm(in[0], w, b, eps, out);
        }
    }

    /** GroupNorm over [N, C, *]; inputs x, then weight and bias when present. */
    record GroupNorm(int groups, float eps, boolean hasWeight, boolean hasBias) implements Op {
        public String kind() {
            return "groupNorm";
        }

        public String attributes() {
            return "groups=" + groups + " eps=" + eps;
        }

        @Override
        public long flops(Node n) {
            return 5 * n.output().numel();
        }

        @Override
        public boolean needsContiguous(int slot) {
            return true;
        }

        @Override
        public Runnable kernel(KernelArgs k) {
            Tensor[] in = k.in();
            Tensor out = k.out();
            Backend backend = k.backend();
            Tensor w = hasWeight ? in[1] : null;
            Tensor b = hasBias ? in[hasWeight ? 2 : 1] : null;
            return () -> backend.norms().groupNorm(in[0], groups, w, b, eps, out);
        }
    }

    /** Softmax over the last dim. */
    record Softmax() implements Op {
        public String kind() {
            return "softmax";
        }

        @Override
        public long flops(Node n) {
            return 3 * n.output().numel();
        }

        @Override
        public boolean needsContiguous(int slot) {
            return true;
        }

        @Override
        public Runnable kernel(KernelArgs k) {
            Tensor[] in = k.in();
            Tensor out = k.out();
            Backend backend = k.backend();
            return () -> backend.norms().softmax(in[0], out);
        }
    }

    /** The four broadcasting arithmetic ops. */
    enum Arithmetic {
        ADD,
        SUB,
        MUL,
        DIV
    }

    /** {@code a ∘ b} with NumPy broadcasting. */
    record Binary(Arithmetic arithmetic) implements Op {
        public String kind() {
            return arithmetic.name().toLowerCase(Locale.ROOT);
        }

        @Override
        public long flops(Node n) {
            return n.output().numel();
        }

        @Override
        public Runnable kernel(KernelArgs k) {
            Tensor[] in = k.in();
            Tensor out = k.out();
            ElementwiseOps ew = k.backend().elementwise();
            return switch (arithmetic) {
                case ADD -> () -> ew.add(in[0], in[1], out);
                case SUB -> () -> ew.sub(in[0], in[1], out);
                case MUL -> () -> ew.mul(in[0], in[1], out);
                case DIV -> () -> ew.div(in[0], in[1], out);
            };
        }
    }

    /** {@code x + s} or {@code x · s} (only ADD and MUL). */
    record Scalar(Arithmetic arithmetic, float value) implements Op {
        public String kind() {
            return arithmetic.name().toLowerCase(Locale.ROOT) + "Scalar";
        }

        public String attributes() {
            return Float.toString(value);
        }

        @Override
        public long flops(Node n) {
            return n.output().numel();
        }

        /** A one-element operand of equal rank broadcasts the scalar through the backend's binary op. */
        @Override
        public Runnable kernel(KernelArgs k) {
            Tensor[] in = k.in();
            Tensor out = k.out();
            ElementwiseOps ew = k.backend().elementwise();
            int[] ones = new int[in[0].rank()];
            Arrays.fill(ones, 1);
            Tensor c = Tensor.of(k.arena(), new float[] {value}, ones);
            return arithmetic == Arithmetic.ADD ? () -> ew.add(in[0], c, out) : () -> ew.mul(in[0], c, out);
        }

        /** On a device the one-element operand lives in device memory the execution owns and frees. */
        @Override
        public Runnable deviceKernel(KernelArgs k) {
            Tensor[] in = k.in();
            Tensor out = k.out();
            MemoryOps memory = k.backend().memory();
            ElementwiseOps ew = k.backend().elementwise();
            int[] ones = new int[in[0].rank()];
            Arrays.fill(ones, 1);
            MemoryOps.Allocation a = memory.allocate(4, "a scalar operand");
            k.own().accept(a);
            Tensor c = memory.tensor(a.segment(), DType.F32, ones);
            memory.copy(Tensor.of(new float[] {value}, ones), c);
            return arithmetic == Arithmetic.ADD ? () -> ew.add(in[0], c, out) : () -> ew.mul(in[0], c, out);
        }
    }

    /** A pointwise activation (GELU-tanh or SiLU). */
    record Activate(Activation activation) implements Op {
        public String kind() {
            return switch (activation) {
                case GELU_TANH -> "gelu";
                case SILU -> "silu";
                case NONE -> "identity";
            };
        }

        @Override
        public long flops(Node n) {
            return n.output().numel();
        }

        @Override
        public Runnable kernel(KernelArgs k) {
            Tensor[] in = k.in();
            Tensor out = k.out();
            ElementwiseOps ew = k.backend().elementwise();
            return () -> ew.activate(activation, in[0], out);
        }
    }

    /** adaLN modulation {@code x·(1 + scale) + shift}; inputs x, shift, scale. */
    record Modulate() implements Op {
        public String kind() {
            return "modulate";
        }

        @Override
        public long flops(Node n) {
            return 2 * n.output().numel();
        }

        @Override
        public Runnable kernel(KernelArgs k) {
            Tensor[] in = k.in();
            Tensor out = k.out();
            ElementwiseOps ew = k.backend().elementwise();
            return () -> ew.modulate(in[0], in[1], in[2], out);
        }
    }

    /** Fused affine-free LayerNorm followed by modulation; inputs x, shift, scale. */
    record LayerNormModulate(float eps) implements Op {
        public String kind() {
            return "layerNormModulate";
        }

        public String attributes() {
            return "eps=" + eps;
        }

        @Override
        public long flops(Node n) {
            return 7 * n.output().numel();
        }

        @Override
        public boolean needsContiguous(int slot) {
            return slot == 0;
        }

        @Override
        public Runnable kernel(KernelArgs k) {
            Tensor[] in = k.in();
            Tensor out = k.out();
            Backend backend = k.backend();
            return () -> backend.norms().layerNormModulate(in[0], in[1], in[2], eps, out);
        }
    }

    /** Sinusoidal timestep embedding of t [B] → [B, dim]. */
    record TimestepEmbedding(int dim, double maxPeriod) implements Op {
        public String kind() {
            return "timestepEmbedding";
        }

        public String attributes() {
            return "dim=" + dim + " maxPeriod=" + maxPeriod;
        }

        @Override
        public Runnable kernel(KernelArgs k) {
            Tensor[] in = k.in();
            Tensor out = k.out();
            Backend backend = k.backend();
            return () -> backend.tables().timestepEmbedding(in[0], maxPeriod, out);
        }
    }

    /** DiT's fixed 2-D sin-cos table [gridH·gridW, dim]; no inputs. */
    record SinCos2d(int gridH, int gridW, int dim) implements Op {
        public String kind() {
            return "sinCos2d";
        }

        public String attributes() {
            return gridH + "x" + gridW + " dim=" + dim;
        }

        @Override
        public Runnable kernel(KernelArgs k) {
            Tensor out = k.out();
            Backend backend = k.backend();
            return () -> backend.tables().sinCos2d(gridH, gridW, out);
        }
    }

    /** Row gather: inputs table [V, D], integer ids [B...] → [B..., D]. */
    record Embedding() implements Op {
        public String kind() {
            return "embedding";
        }

        @Override
        public boolean needsContiguous(int slot) {
            return true;
        }

        @Override
        public Runnable kernel(KernelArgs k) {
            EmbeddingGather g = new EmbeddingGather(k.in()[0], k.in()[1], k.out());
            return g::run;
        }

        @Override
        public Runnable deviceKernel(KernelArgs k) {
            Tensor[] in = k.in();
            Tensor out = k.out();
            MemoryOps memory = k.backend().memory();
            return () -> memory.gather(in[0], in[1], out);
        }
    }

    /** Patch embedding over 2 or 3 spatial dims; inputs x, weight, then bias when present. */
    record PatchEmbed(int spatialDims, boolean hasBias) implements Op {
        public String kind() {
            return "patchEmbed" + spatialDims + "d";
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
    }

    /** 2-D convolution; inputs x, weight, then bias when present. */
    record Conv2d(int stride, int padding, boolean hasBias) implements Op {
        public String kind() {
            return "conv2d";
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
    }

    /** Nearest-neighbour 2-D upsampling. */
    record UpsampleNearest2d(int factor) implements Op {
        public String kind() {
            return "upsampleNearest2d";
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
    }

    // ---------------------------------------------------------------- layout

    /**
     * A new shape over the same elements. The planner keeps it a view when the source's strides
     * allow (always for contiguous sources) and otherwise inserts a {@link Contiguous} copy first.
     */
    record Reshape(int[] shape) implements Op {
        public String kind() {
            return "reshape";
        }

        public String attributes() {
            return Shapes.toString(shape);
        }

        public boolean isView() {
            return true;
        }

        @Override
        public Tensor view(Tensor src) {
            return src.reshape(shape);
        }
    }

    /** A permutation of the dims (always a view). */
    record Permute(int[] dims) implements Op {
        public String kind() {
            return "permute";
        }

        public String attributes() {
            return Arrays.toString(dims);
        }

        public boolean isView() {
            return true;
        }

        @Override
        public Tensor view(Tensor src) {
            return src.permute(dims);
        }
    }

    /** Elements [start, end) of {@code dim} (always a view). */
    record Slice(int dim, int start, int end) implements Op {
        public String kind() {
            return "slice";
        }

        public String attributes() {
            return "dim=" + dim + " [" + start + ":" + end + "]";
        }

        public boolean isView() {
            return true;
        }

        @Override
        public Tensor view(Tensor src) {
            return src.slice(dim, start, end);
        }
    }

    /** A new dim of size 1 (always a view). */
    record Unsqueeze(int dim) implements Op {
        public String kind() {
            return "unsqueeze";
        }

        public String attributes() {
            return "dim=" + dim;
        }

        public boolean isView() {
            return true;
        }

        @Override
        public Tensor view(Tensor src) {
            return src.unsqueeze(dim);
        }
    }

    /** A row-major copy; the planner turns it into a view when the source already is row-major. */
    record Contiguous() implements Op {
        public String kind() {
            return "contiguous";
        }

        @Override
        public Runnable kernel(KernelArgs k) {
            return new StridedCopy(k.backend().pool(), k.in()[0], k.out())::run;
        }

        @Override
        public Runnable deviceKernel(KernelArgs k) {
            Tensor src = k.in()[0];
            Tensor out = k.out();
            MemoryOps memory = k.backend().memory();
            return () -> memory.copy(src, out);
        }
    }

    /** A broadcast to {@code shape}, materialised. */
    record Expand(int[] shape) implements Op {
        public String kind() {
            return "expand";
        }

        public String attributes() {
            return Shapes.toString(shape);
        }

        @Override
        public Runnable kernel(KernelArgs k) {
            return new StridedCopy(k.backend().pool(), k.in()[0].expand(shape), k.out())::run;
        }

        @Override
        public Runnable deviceKernel(KernelArgs k) {
            Tensor src = k.in()[0].expand(shape);
            Tensor out = k.out();
            MemoryOps memory = k.backend().memory();
            return () -> memory.copy(src, out);
        }
    }

    /** Concatenation of all inputs along {@code dim}. */
    record Concat(int dim) implements Op {
        public String kind() {
            return "concat";
        }

        public String attributes() {
            return "dim=" + dim;
        }

        @Override
        public Runnable kernel(KernelArgs k) {
            Tensor[] in = k.in();
            StridedCopy[] parts = new StridedCopy[in.length];
            int at = 0;
            for (int i = 0; i < in.length; i++) {
                int n = in[i].size(dim);
                parts[i] = new StridedCopy(k.backend().pool(), in[i], k.out().slice(dim, at, at + n));
                at += n;
            }
            return () -> {
                for (StridedCopy p : parts) {
                    p.run();
                }
            };
        }

        @Override
        public Runnable deviceKernel(KernelArgs k) {
            Tensor[] in = k.in();
            MemoryOps memory = k.backend().memory();
            Tensor[] parts = new Tensor[in.length];
            int at = 0;
            for (int i = 0; i < in.length; i++) {
                int n = in[i].size(dim);
                parts[i] = k.out().slice(dim, at, at + n);
                at += n;
            }
            return () -> {
                for (int i = 0; i < parts.length; i++) {
                    memory.copy(in[i], parts[i]);
                }
            };
        }
    }

    /** A converting copy to {@code dtype}. */
    record Cast(DType dtype) implements Op {
        public String kind() {
            return "cast";
        }

        public String attributes() {
            return dtype.shortName();
        }

        @Override
        public Runnable kernel(KernelArgs k) {
            Tensor src = k.in()[0];
            Tensor out = k.out();
            return () -> out.copyFrom(src);
        }

        @Override
        public Runnable deviceKernel(KernelArgs k) {
            Tensor src = k.in()[0];
            Tensor out = k.out();
            MemoryOps memory = k.backend().memory();
            return () -> memory.copy(src, out);
        }
    }
}
