package org.tessera.engine.graph;

import static org.tessera.engine.graph.ShapeRules.dims;
import static org.tessera.engine.graph.ShapeRules.f32;
import static org.tessera.engine.graph.ShapeRules.mismatch;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.List;
import org.tessera.engine.backend.Activation;
import org.tessera.engine.backend.AttentionMask;
import org.tessera.engine.backend.Backend;
import org.tessera.engine.backend.Epilogue;
import org.tessera.engine.backend.OpChecks;
import org.tessera.engine.backend.PackedMatrix;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Tensor;

/** Matrix products and attention. Each record is one op's whole definition; see {@link Op}. */
public final class ProductOps {
    private ProductOps() {}

    /** {@code act(x·Wᵀ + bias)}: inputs x, weight [out, in], then bias when {@code hasBias}. */
    public record Linear(Activation activation, boolean hasBias) implements Op {
        public String kind() {
            return "linear";
        }

        @Override
        public Gradient gradient() {
            return (g, n, dy) -> Gradients.linear(g, n, dy, activation, hasBias);
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
    public record MatMul() implements Op {
        public String kind() {
            return "matmul";
        }

        @Override
        public Gradient gradient() {
            return Gradients::matmul;
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
                    : backend.gemm().boundBatchedGemm(in[0], in[1], out, 1f, 0f);
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
    public record Attention(float scale, boolean segmented, boolean masked) implements Op {
        public Attention(float scale, boolean segmented) {
            this(scale, segmented, false);
        }

        public String kind() {
            return "attention";
        }

        @Override
        public Gradient gradient() {
            return (g, n, dy) -> Gradients.attention(g, n, dy, scale, segmented, masked);
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
}
