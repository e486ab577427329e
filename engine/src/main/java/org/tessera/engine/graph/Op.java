package org.tessera.engine.graph;

import static org.tessera.engine.graph.ShapeRules.axis;
import static org.tessera.engine.graph.ShapeRules.broadcastsTo;
import static org.tessera.engine.graph.ShapeRules.dims;
import static org.tessera.engine.graph.ShapeRules.f32;
import static org.tessera.engine.graph.ShapeRules.mismatch;
import static org.tessera.engine.graph.ShapeRules.vector;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.List;
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
import org.tessera.engine.tensor.ShapeMismatchException;
import org.tessera.engine.tensor.Shapes;
import org.tessera.engine.tensor.Tensor;

/**
 * What a {@link Node} computes, each op defined once: one record per operation holds its
 * attributes, its FLOP count, its operands' layout needs, its binding to the backend's op
 * families (and, where a device differs, to the device), its shape and dtype rule ({@link #infer})
 * and a slot for its gradient. {@link GraphBuilder}'s methods only build the record and apply it.
 * Optional operands (a bias, a norm's weight)
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

    /**
     * The op's shape and dtype rule: the output type for {@code inputs} (its operands, the
     * absent optional ones left out), checking every operand. Throws a
     * {@link org.tessera.engine.tensor.ShapeMismatchException} whose message starts with the op's
     * name and lists every shape involved.
     */
    default OutputType infer(List<Value> inputs) {
        throw new IllegalArgumentException(kind() + " nodes are sources; they have no rule");
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

        /** x [..., in], weight [out, in], bias [out] → [..., out]. */
        @Override
        public OutputType infer(List<Value> in) {
            String op = kind();
            Value x = in.get(0);
            Value weight = in.get(1);
            Value bias = hasBias ? in.get(2) : null;
            f32(op, x, weight, bias);
            if (x.rank() < 1 || weight.rank() != 2 || x.size(-1) != weight.size(1)) {
                throw mismatch(
                        op,
                        "input " + dims(x) + " and weight " + dims(weight)
                                + " do not fit (x [..., in], weight [out, in])");
            }
            if (bias != null && (bias.rank() != 1 || bias.size(0) != weight.size(0))) {
                throw mismatch(
                        op, "bias " + dims(bias) + " must be [" + weight.size(0) + "] for weight " + dims(weight));
            }
            int[] shape = x.shape();
            shape[shape.length - 1] = weight.size(0);
            return new OutputType(shape, DType.F32);
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

        /** [M, K]·[K, N] → [M, N], or batched [B, M, K]·[B, K, N] → [B, M, N]. */
        @Override
        public OutputType infer(List<Value> in) {
            String op = kind();
            Value a = in.get(0);
            Value b = in.get(1);
            f32(op, a, b);
            int r = a.rank();
            boolean ok = r == b.rank()
                    && (r == 2 || r == 3)
                    && a.size(-1) == b.size(-2)
                    && (r == 2 || a.size(0) == b.size(0));
            if (!ok) {
                throw mismatch(
                        op,
                        "A " + dims(a) + " and B " + dims(b) + " do not fit ([M, K]·[K, N] or [B, M, K]·[B, K, N])");
            }
            int[] shape = a.shape();
            shape[r - 1] = b.size(-1);
            return new OutputType(shape, DType.F32);
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

        /** q [B, H, Nq, d], k and v [B, H, Nk, d], then segment ids or a mask → [B, H, Nq, d]. */
        @Override
        public OutputType infer(List<Value> in) {
            String op = kind();
            Value q = in.get(0);
            Value k = in.get(1);
            Value v = in.get(2);
            Value segmentIds = segmented ? in.get(3) : null;
            Value mask = masked ? in.get(3) : null;
            f32(op, q, k, v);
            boolean ok = q.rank() == 4
                    && k.rank() == 4
                    && v.rank() == 4
                    && q.size(0) == k.size(0)
                    && q.size(0) == v.size(0)
                    && q.size(1) == k.size(1)
                    && q.size(1) == v.size(1)
                    && k.size(2) == v.size(2)
                    && q.size(3) == k.size(3)
                    && q.size(3) == v.size(3);
            if (!ok) {
                throw mismatch(
                        op,
                        "Q " + dims(q) + ", K " + dims(k) + " and V " + dims(v)
                                + " do not fit ([B, H, Nq, d], [B, H, Nk, d], [B, H, Nk, d])");
            }
            if (segmented && masked) {
                throw mismatch(op, "takes segment ids or an additive mask, not both");
            }
            if (segmentIds != null) {
                boolean idsOk = !segmentIds.dtype().isFloatingPoint()
                        && segmentIds.rank() == 2
                        && segmentIds.size(0) == q.size(0)
                        && segmentIds.size(1) == q.size(2)
                        && q.size(2) == k.size(2);
                if (!idsOk) {
                    throw mismatch(
                            op,
                            "segment ids " + segmentIds.dtype().shortName() + dims(segmentIds)
                                    + " must be integer [" + q.size(0) + ", " + q.size(2) + "] for self-attention Q "
                                    + dims(q)
                                    + " and K " + dims(k));
                }
            }
            if (mask != null) {
                int[] target = {q.size(0), q.size(1), q.size(2), k.size(2)};
                boolean maskOk = mask.dtype() == DType.F32 && mask.rank() >= 2 && mask.rank() <= 4;
                for (int i = 0; maskOk && i < mask.rank(); i++) {
                    int want = target[4 - mask.rank() + i];
                    maskOk = mask.size(i) == want || mask.size(i) == 1;
                }
                if (!maskOk) {
                    throw mismatch(
                            op,
                            "mask " + mask.dtype().shortName() + dims(mask)
                                    + " must be f32 and broadcast to [B, H, Nq, Nk] = " + Arrays.toString(target));
                }
            }
            return new OutputType(q.shape(), DType.F32);
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

        /** Over the last dim; weight and bias [D]. */
        @Override
        public OutputType infer(List<Value> in) {
            String op = kind();
            Value x = in.get(0);
            Value weight = hasWeight ? in.get(1) : null;
            Value bias = hasBias ? in.get(hasWeight ? 2 : 1) : null;
            f32(op, x, weight, bias);
            if (x.rank() < 1) {
                throw mismatch(op, "input " + dims(x) + " needs at least one dimension");
            }
            vector(op, "weight", weight, x.size(-1), x);
            vector(op, "bias", bias, x.size(-1), x);
            return new OutputType(x.shape(), DType.F32);
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

        /** x [N, C, *] with C divisible by the groups; weight and bias [C]. */
        @Override
        public OutputType infer(List<Value> in) {
            String op = kind();
            Value x = in.get(0);
            Value weight = hasWeight ? in.get(1) : null;
            Value bias = hasBias ? in.get(hasWeight ? 2 : 1) : null;
            f32(op, x, weight, bias);
            if (x.rank() < 2 || groups <= 0 || x.size(1) % groups != 0) {
                throw mismatch(op, "input " + dims(x) + " must be [N, C, *] with C divisible by " + groups + " groups");
            }
            vector(op, "weight", weight, x.size(1), x);
            vector(op, "bias", bias, x.size(1), x);
            return new OutputType(x.shape(), DType.F32);
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

        @Override
        public OutputType infer(List<Value> in) {
            Value x = in.get(0);
            f32(kind(), x);
            if (x.rank() < 1) {
                throw mismatch(kind(), "input " + dims(x) + " needs at least one dimension");
            }
            return new OutputType(x.shape(), DType.F32);
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

        /** NumPy broadcasting of a and b. */
        @Override
        public OutputType infer(List<Value> in) {
            String op = kind();
            Value a = in.get(0);
            Value b = in.get(1);
            f32(op, a, b);
            try {
                return new OutputType(Shapes.broadcast(op, a.shape(), b.shape()), DType.F32);
            } catch (ShapeMismatchException e) {
                throw mismatch(op, "a " + dims(a) + " and b " + dims(b) + " do not broadcast");
            }
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

        @Override
        public OutputType infer(List<Value> in) {
            f32(kind(), in.get(0));
            return new OutputType(in.get(0).shape(), DType.F32);
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

        @Override
        public OutputType infer(List<Value> in) {
            f32(kind(), in.get(0));
            return new OutputType(in.get(0).shape(), DType.F32);
        }
    }

    /** {@code min(max(x, lo), hi)}, NaN kept: a decoder's output range, a clipped x̂₀. */
    record Clamp(float lo, float hi) implements Op {
        public String kind() {
            return "clamp";
        }

        public String attributes() {
            return "[" + lo + ", " + hi + "]";
        }

        @Override
        public OutputType infer(List<Value> in) {
            Value x = in.get(0);
            f32(kind(), x);
            if (!(lo <= hi)) {
                throw mismatch(kind(), "min " + lo + " must not exceed max " + hi);
            }
            return new OutputType(x.shape(), DType.F32);
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
            return () -> ew.clamp(in[0], lo, hi, out);
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

        /** x, then shift and scale that broadcast to x's shape. */
        @Override
        public OutputType infer(List<Value> in) {
            String op = kind();
            Value x = in.get(0);
            Value shift = in.get(1);
            Value scale = in.get(2);
            f32(op, x, shift, scale);
            if (!broadcastsTo(shift.shape(), x.shape()) || !broadcastsTo(scale.shape(), x.shape())) {
                throw mismatch(
                        op, "shift " + dims(shift) + " and scale " + dims(scale) + " must broadcast to x " + dims(x));
            }
            return new OutputType(x.shape(), DType.F32);
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

        /** Made by fusion from a checked layerNorm and modulate: x's shape. */
        @Override
        public OutputType infer(List<Value> in) {
            return new OutputType(in.get(0).shape(), DType.F32);
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

        /** t [B] of any numeric dtype → [B, dim] f32. */
        @Override
        public OutputType infer(List<Value> in) {
            Value t = in.get(0);
            if (t.rank() != 1 || dim <= 0) {
                throw mismatch(kind(), "t " + dims(t) + " must be [B] and dim " + dim + " positive");
            }
            return new OutputType(new int[] {t.size(0), dim}, DType.F32);
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

        /** [gridH·gridW, dim], dim divisible by 4. */
        @Override
        public OutputType infer(List<Value> in) {
            if (gridH <= 0 || gridW <= 0 || dim <= 0 || dim % 4 != 0) {
                throw mismatch(
                        kind(),
                        "grid " + gridH + "x" + gridW + " and dim " + dim + " must be positive, dim divisible by 4");
            }
            return new OutputType(new int[] {gridH * gridW, dim}, DType.F32);
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

        /** table [V, D], integer ids [B...] → [B..., D] in the table's dtype. */
        @Override
        public OutputType infer(List<Value> in) {
            Value table = in.get(0);
            Value ids = in.get(1);
            if (table.rank() != 2 || ids.dtype().isFloatingPoint()) {
                throw mismatch(
                        kind(),
                        "table " + table.dtype().shortName() + dims(table) + " must be [V, D] and ids "
                                + ids.dtype().shortName() + dims(ids) + " integer");
            }
            int[] shape = Arrays.copyOf(ids.shape(), ids.rank() + 1);
            shape[ids.rank()] = table.size(1);
            return new OutputType(shape, table.dtype());
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
            for (int i = 2; i < rank; i++) {
                if (weight.size(i) == 0 || x.size(i) % weight.size(i) != 0) {
                    throw mismatch(op, "input " + dims(x) + " is not divisible into patches of weight " + dims(weight));
                }
                tokens *= x.size(i) / weight.size(i);
            }
            vector(op, "bias", bias, weight.size(0), weight);
            return new OutputType(new int[] {x.size(0), tokens, weight.size(0)}, DType.F32);
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

        /** The same elements in {@link #shape} (resolved by {@link #of}). */
        @Override
        public OutputType infer(List<Value> in) {
            Value x = in.get(0);
            if (Shapes.numel(shape) != x.numel()) {
                throw mismatch(
                        kind(), dims(x) + " (" + x.numel() + " elements) cannot become " + Shapes.toString(shape));
            }
            return new OutputType(shape.clone(), x.dtype());
        }

        /** The reshape of {@code x} to {@code shape}, its one −1 resolved from x's element count. */
        public static Reshape of(Value x, int... shape) {
            String op = "reshape";
            int[] target = shape.clone();
            int infer = -1;
            long known = 1;
            for (int i = 0; i < target.length; i++) {
                if (target[i] == -1 && infer < 0) {
                    infer = i;
                } else if (target[i] < 0) {
                    throw mismatch(
                            op,
                            "target " + Shapes.toString(shape) + " for " + dims(x)
                                    + " may hold one -1 and no other negative size");
                } else {
                    known *= target[i];
                }
            }
            if (infer >= 0) {
                if (known == 0 || x.numel() % known != 0) {
                    throw mismatch(op, "cannot infer -1 in " + Shapes.toString(shape) + " for " + dims(x));
                }
                target[infer] = Math.toIntExact(x.numel() / known);
            } else if (known != x.numel()) {
                throw mismatch(op, dims(x) + " (" + x.numel() + " elements) cannot become " + Shapes.toString(shape));
            }
            return new Reshape(target);
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

        /** The dims reordered as {@link #dims} (normalised by {@link #of}). */
        @Override
        public OutputType infer(List<Value> in) {
            Value x = in.get(0);
            int[] shape = new int[dims.length];
            for (int i = 0; i < dims.length; i++) {
                shape[i] = x.size(dims[i]);
            }
            return new OutputType(shape, x.dtype());
        }

        /** The permutation {@code dims} of x's dims (negative dims count from the end). */
        public static Permute of(Value x, int... dims) {
            int r = x.rank();
            boolean[] seen = new boolean[r];
            int[] order = new int[dims.length];
            boolean ok = dims.length == r;
            for (int i = 0; ok && i < r; i++) {
                int d = dims[i] < 0 ? dims[i] + r : dims[i];
                ok = d >= 0 && d < r && !seen[d];
                if (ok) {
                    seen[d] = true;
                    order[i] = d;
                }
            }
            if (!ok) {
                throw mismatch(
                        "permute",
                        Arrays.toString(dims) + " is not a permutation of the dims of " + ShapeRules.dims(x));
            }
            return new Permute(order);
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

        /** Elements [start, end) of {@link #dim}. */
        @Override
        public OutputType infer(List<Value> in) {
            Value x = in.get(0);
            if (dim < 0 || dim >= x.rank() || start < 0 || start > end || end > x.size(dim)) {
                throw mismatch(kind(), "[" + start + ":" + end + "] out of range for dim " + dim + " of " + dims(x));
            }
            int[] shape = x.shape();
            shape[dim] = end - start;
            return new OutputType(shape, x.dtype());
        }

        /** Elements [start, end) of {@code dim} of x (a negative dim counts from the end). */
        public static Slice of(Value x, int dim, int start, int end) {
            return new Slice(axis("slice", x, dim), start, end);
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

        /** A dim of size 1 at {@link #dim}. */
        @Override
        public OutputType infer(List<Value> in) {
            Value x = in.get(0);
            int r = x.rank();
            if (dim < 0 || dim > r) {
                throw mismatch(kind(), "dim " + dim + " out of range for " + dims(x));
            }
            int[] shape = new int[r + 1];
            for (int i = 0, j = 0; i <= r; i++) {
                shape[i] = i == dim ? 1 : x.size(j++);
            }
            return new OutputType(shape, x.dtype());
        }

        /** A dim of size 1 at {@code dim} of x (negative: counted from the end of the result). */
        public static Unsqueeze of(Value x, int dim) {
            int d = dim < 0 ? dim + x.rank() + 1 : dim;
            if (d < 0 || d > x.rank()) {
                throw mismatch("unsqueeze", "dim " + dim + " out of range for " + dims(x));
            }
            return new Unsqueeze(d);
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

        @Override
        public OutputType infer(List<Value> in) {
            return new OutputType(in.get(0).shape(), in.get(0).dtype());
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

        /** x broadcast to {@link #shape} (resolved by {@link #of}). */
        @Override
        public OutputType infer(List<Value> in) {
            Value x = in.get(0);
            if (!broadcastsTo(x.shape(), shape)) {
                throw mismatch(kind(), dims(x) + " cannot broadcast to " + Shapes.toString(shape));
            }
            return new OutputType(shape.clone(), x.dtype());
        }

        /** x broadcast to {@code shape}, where −1 keeps x's dim. */
        public static Expand of(Value x, int... shape) {
            int lead = shape.length - x.rank();
            int[] out = shape.clone();
            boolean ok = lead >= 0;
            for (int i = 0; ok && i < shape.length; i++) {
                if (i < lead) {
                    ok = shape[i] >= 0;
                } else {
                    int have = x.size(i - lead);
                    out[i] = shape[i] == -1 ? have : shape[i];
                    ok = out[i] >= 0 && (have == out[i] || have == 1);
                }
            }
            if (!ok) {
                throw mismatch("expand", dims(x) + " cannot broadcast to " + Shapes.toString(shape));
            }
            return new Expand(out);
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

        /** Operands that agree outside {@link #dim} and in dtype, joined along it. */
        @Override
        public OutputType infer(List<Value> in) {
            String op = kind();
            if (in.isEmpty()) {
                throw mismatch(op, "needs at least one operand");
            }
            Value first = in.get(0);
            int total = 0;
            for (Value v : in) {
                boolean ok = v.rank() == first.rank() && v.dtype() == first.dtype();
                for (int i = 0; ok && i < v.rank(); i++) {
                    ok = i == dim || v.size(i) == first.size(i);
                }
                if (!ok) {
                    throw mismatch(
                            op,
                            "operands " + in.stream().map(ShapeRules::dims).toList() + " differ outside dim " + dim
                                    + " (or in dtype)");
                }
                total += v.size(dim);
            }
            int[] shape = first.shape();
            shape[dim] = total;
            return new OutputType(shape, first.dtype());
        }

        /** Concatenation of {@code xs} along {@code dim} (a negative dim counts from the end). */
        public static Concat of(List<Value> xs, int dim) {
            if (xs == null || xs.isEmpty()) {
                throw mismatch("concat", "needs at least one operand");
            }
            return new Concat(axis("concat", xs.get(0), dim));
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

        @Override
        public OutputType infer(List<Value> in) {
            return new OutputType(in.get(0).shape(), dtype);
        }
    }
}
