package org.tessera.engine.graph;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.tessera.engine.backend.AttentionMask;
import org.tessera.engine.backend.Backend;
import org.tessera.engine.backend.ElementwiseOps;
import org.tessera.engine.backend.EmbeddingGather;
import org.tessera.engine.backend.PackedMatrix;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Tensor;

/**
 * Lowers one node to backend calls: given the node's operand and output tensors, returns the
 * step that computes it. Everything a step needs (views, broadcast constants, kernel objects) is
 * prepared here, once per {@link Execution}, so running a step allocates nothing. Every kernel
 * call goes through the {@link Backend}'s op families, except the few graph-level kernels the
 * families lack (copies, gathers), which live in their own classes.
 */
final class NodeKernels {
    private NodeKernels() {}

    /** The view a view op makes of its source. */
    static Tensor view(Op op, Tensor src) {
        return switch (op) {
            case Op.Reshape r -> src.reshape(r.shape());
            case Op.Permute p -> src.permute(p.dims());
            case Op.Slice s -> src.slice(s.dim(), s.start(), s.end());
            case Op.Unsqueeze u -> src.unsqueeze(u.dim());
            default -> throw new IllegalArgumentException(op.kind() + " is not a view");
        };
    }

    /**
     * The step computing {@code node} from {@code in} into {@code out}.
     *
     * @param packedWeight the pre-packed weightᵀ of a linear node, or null to use the weight as is
     * @param arena owns the small host tensors the step keeps (scalar operands)
     * @param own takes device memory the step keeps, for the caller to free with the execution
     */
    static Runnable step(
            Backend backend,
            Node node,
            Tensor[] in,
            Tensor out,
            PackedMatrix packedWeight,
            Arena arena,
            java.util.function.Consumer<AutoCloseable> own) {
        ElementwiseOps ew = backend.elementwise();
        if (!backend.onHost()) {
            Runnable device = deviceStep(backend, node, in, out, own);
            if (device != null) {
                return device;
            }
        }
        return switch (node.op()) {
            case Op.Linear l -> {
                // The 2-D views and the epilogue are built once here, not per run: linear() would
                // build them on every call.
                Tensor bias = l.hasBias() ? in[2] : null;
                org.tessera.engine.backend.OpChecks.linear(in[0], in[1].size(1), in[1].size(0), out);
                Tensor x2 = org.tessera.engine.backend.OpChecks.rows(in[0]);
                Tensor out2 = org.tessera.engine.backend.OpChecks.rows(out);
                org.tessera.engine.backend.Epilogue epilogue =
                        org.tessera.engine.backend.Epilogue.of(bias, l.activation());
                if (packedWeight != null) {
                    yield () -> backend.gemm().gemm(x2, packedWeight, out2, 1f, 0f, epilogue);
                }
                Tensor wt = in[1].t();
                yield () -> backend.gemm().gemm(x2, wt, out2, 1f, 0f, epilogue);
            }
            case Op.MatMul m ->
                in[0].rank() == 2
                        ? () -> backend.gemm().matmul(in[0], in[1], out)
                        : () -> backend.gemm().batchedGemm(in[0], in[1], out, 1f, 0f);
            case Op.Attention a -> attention(backend, a, in, out);
            case Op.LayerNorm l -> {
                Tensor w = l.hasWeight() ? in[1] : null;
                Tensor b = l.hasBias() ? in[l.hasWeight() ? 2 : 1] : null;
                yield () -> backend.norms().layerNorm(in[0], w, b, l.eps(), out);
            }
            case Op.GroupNorm g -> {
                Tensor w = g.hasWeight() ? in[1] : null;
                Tensor b = g.hasBias() ? in[g.hasWeight() ? 2 : 1] : null;
                yield () -> backend.norms().groupNorm(in[0], g.groups(), w, b, g.eps(), out);
            }
            case Op.Softmax s -> () -> backend.norms().softmax(in[0], out);
            case Op.Binary b ->
                switch (b.arithmetic()) {
                    case ADD -> () -> ew.add(in[0], in[1], out);
                    case SUB -> () -> ew.sub(in[0], in[1], out);
                    case MUL -> () -> ew.mul(in[0], in[1], out);
                    case DIV -> () -> ew.div(in[0], in[1], out);
                };
            case Op.Scalar s -> {
                // A one-element operand of equal rank broadcasts the scalar through the backend's binary op.
                int[] ones = new int[in[0].rank()];
                java.util.Arrays.fill(ones, 1);
                Tensor c = Tensor.of(arena, new float[] {s.value()}, ones);
                yield s.arithmetic() == Op.Arithmetic.ADD ? () -> ew.add(in[0], c, out) : () -> ew.mul(in[0], c, out);
            }
            case Op.Activate a -> () -> ew.activate(a.activation(), in[0], out);
            case Op.Modulate m -> () -> ew.modulate(in[0], in[1], in[2], out);
            case Op.LayerNormModulate l -> () -> backend.norms().layerNormModulate(in[0], in[1], in[2], l.eps(), out);
            case Op.TimestepEmbedding t -> () -> backend.tables().timestepEmbedding(in[0], t.maxPeriod(), out);
            case Op.SinCos2d s -> () -> backend.tables().sinCos2d(s.gridH(), s.gridW(), out);
            case Op.Embedding e -> {
                EmbeddingGather g = new EmbeddingGather(in[0], in[1], out);
                yield g::run;
            }
            case Op.PatchEmbed p -> {
                Tensor bias = p.hasBias() ? in[2] : null;
                yield p.spatialDims() == 2
                        ? () -> backend.conv().patchEmbed2d(in[0], in[1], bias, out)
                        : () -> backend.conv().patchEmbed3d(in[0], in[1], bias, out);
            }
            case Op.Conv2d c -> {
                Tensor bias = c.hasBias() ? in[2] : null;
                yield () -> backend.conv().conv2d(in[0], in[1], bias, c.stride(), c.padding(), out);
            }
            case Op.UpsampleNearest2d u -> () -> backend.conv().upsampleNearest2d(in[0], u.factor(), out);
            case Op.Contiguous c -> new StridedCopy(backend.pool(), in[0], out)::run;
            case Op.Expand e -> new StridedCopy(backend.pool(), in[0].expand(e.shape()), out)::run;
            case Op.Concat c -> {
                StridedCopy[] parts = new StridedCopy[in.length];
                int at = 0;
                for (int i = 0; i < in.length; i++) {
                    int n = in[i].size(c.dim());
                    parts[i] = new StridedCopy(backend.pool(), in[i], out.slice(c.dim(), at, at + n));
                    at += n;
                }
                yield () -> {
                    for (StridedCopy p : parts) {
                        p.run();
                    }
                };
            }
            case Op.Cast c -> () -> out.copyFrom(in[0]);
            case Op.Input i -> throw new IllegalArgumentException("input nodes have no step");
            case Op.Constant k -> throw new IllegalArgumentException("constant nodes have no step");
            case Op.Reshape r -> throw new IllegalArgumentException("views have no step");
            case Op.Permute p -> throw new IllegalArgumentException("views have no step");
            case Op.Slice s -> throw new IllegalArgumentException("views have no step");
            case Op.Unsqueeze u -> throw new IllegalArgumentException("views have no step");
        };
    }

    /**
     * The steps that differ on a device backend: those that move data (copies, gathers, casts),
     * read ids, or keep a small constant, which on the host are plain Java. Null for the others,
     * whose host form already goes through the backend's op families.
     */
    private static Runnable deviceStep(
            Backend backend, Node node, Tensor[] in, Tensor out, java.util.function.Consumer<AutoCloseable> own) {
        org.tessera.engine.backend.MemoryOps memory = backend.memory();
        return switch (node.op()) {
            case Op.Contiguous c -> () -> memory.copy(in[0], out);
            case Op.Expand e -> {
                Tensor src = in[0].expand(e.shape());
                yield () -> memory.copy(src, out);
            }
            case Op.Concat c -> {
                Tensor[] parts = new Tensor[in.length];
                int at = 0;
                for (int i = 0; i < in.length; i++) {
                    int n = in[i].size(c.dim());
                    parts[i] = out.slice(c.dim(), at, at + n);
                    at += n;
                }
                yield () -> {
                    for (int i = 0; i < parts.length; i++) {
                        memory.copy(in[i], parts[i]);
                    }
                };
            }
            case Op.Cast c -> () -> memory.copy(in[0], out);
            case Op.Embedding e -> () -> memory.gather(in[0], in[1], out);
            case Op.Scalar s -> {
                int[] ones = new int[in[0].rank()];
                java.util.Arrays.fill(ones, 1);
                // The one-element operand lives in device memory the execution owns and frees.
                org.tessera.engine.backend.MemoryOps.Allocation a = memory.allocate(4, "a scalar operand");
                own.accept(a);
                Tensor c = memory.tensor(a.segment(), DType.F32, ones);
                memory.copy(Tensor.of(new float[] {s.value()}, ones), c);
                yield s.arithmetic() == Op.Arithmetic.ADD
                        ? () -> backend.elementwise().add(in[0], c, out)
                        : () -> backend.elementwise().mul(in[0], c, out);
            }
            case Op.Attention a
            when a.segmented() -> () -> backend.attention().attention(in[0], in[1], in[2], out, in[3], a.scale());
            default -> null;
        };
    }

    /**
     * Attention, with a segment mask whose id arrays are allocated once and refilled from the
     * ids tensor on every run (self-attention: queries and keys share them).
     */
    private static Runnable attention(Backend backend, Op.Attention a, Tensor[] in, Tensor out) {
        Tensor q = in[0];
        Tensor k = in[1];
        Tensor v = in[2];
        if (a.masked()) {
            AttentionMask mask = new AttentionMask.Additive(in[3]);
            return () -> backend.attention().attention(q, k, v, out, mask, a.scale());
        }
        if (!a.segmented()) {
            return () -> backend.attention().attention(q, k, v, out, AttentionMask.NONE, a.scale());
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
            backend.attention().attention(q, k, v, out, mask, a.scale());
        };
    }

    /** Operand slots a node's kernel needs row-major (the planner inserts copies for the others). */
    static boolean needsContiguous(Op op, int slot) {
        return switch (op) {
            case Op.Linear l -> slot == 0 || slot == 2;
            case Op.LayerNorm l -> true;
            case Op.GroupNorm g -> true;
            case Op.Softmax s -> true;
            case Op.LayerNormModulate l -> slot == 0;
            case Op.Embedding e -> true;
            case Op.Attention a -> slot == 3 && a.segmented();
            case Op.PatchEmbed p -> slot >= 1;
            case Op.Conv2d c -> slot >= 1;
            default -> false;
        };
    }
}
