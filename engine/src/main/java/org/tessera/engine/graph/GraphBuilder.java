package org.tessera.engine.graph;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tessera.engine.backend.Activation;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.ShapeMismatchException;
import org.tessera.engine.tensor.Shapes;
import org.tessera.engine.tensor.Tensor;

/**
 * Builds a {@link Graph} op by op, the way a model's forward pass reads. Every op checks its
 * operands at once and throws a {@link ShapeMismatchException} whose message starts with the
 * op's name and lists every shape involved (plus the source location set by {@link #at}), so a
 * mistake surfaces where it was written rather than at run time.
 *
 * <p>Float ops take F32 operands; use {@link #cast} to convert (a cast of a constant, such as a
 * BF16 weight, is folded once at compile time).
 */
public final class GraphBuilder {
    private final List<Node> nodes = new ArrayList<>();
    private final Map<Integer, Value> defined = new HashMap<>();
    private final Map<String, Value> inputs = new LinkedHashMap<>();
    private final Map<String, Value> outputs = new LinkedHashMap<>();
    private int nextId;
    private String location;

    /**
     * The most nodes one graph may have. DiT-XL/2 has a few thousand; a million means a loop or
     * repeat count gone wrong, and is refused before it takes minutes and gigabytes to build.
     */
    public static final int MAX_NODES = 1 << 20;

    public GraphBuilder() {}

    /** Tags the nodes built from now on with a source location, e.g. {@code dit.tess:12:5}, for messages. */
    public void at(String location) {
        this.location = location;
    }

    // ---------------------------------------------------------------- sources

    /** A named input; {@link Execution#run} checks the tensor given for it against this shape and dtype. */
    public Value input(String name, DType dtype, int... shape) {
        if (inputs.containsKey(name)) {
            throw new IllegalArgumentException("input: '" + name + "' is declared twice" + where());
        }
        checkDims("input", shape);
        Value v = add(new SourceOps.Input(name), List.of(), shape, dtype);
        inputs.put(name, v);
        return v;
    }

    /** A constant tensor (weights, usually memory-mapped; tables). It is used in place, never copied. */
    public Value constant(String name, Tensor value) {
        return add(new SourceOps.Constant(name, value), List.of(), value.shape(), value.dtype());
    }

    // ---------------------------------------------------------------- ops
    //
    // Each method builds its op's record (normalising arguments such as negative dims) and
    // applies it: the record checks the operands and gives the output's shape and dtype.

    /**
     * Adds {@code op} applied to {@code operands} (the absent optional ones left out), after its
     * shape rule has checked them; the node is tagged with the current source location.
     *
     * @throws ShapeMismatchException naming the op, every shape involved and the location
     */
    public Value apply(Op op, List<Value> operands) {
        use(op.kind(), operands.toArray(Value[]::new));
        OutputType type;
        try {
            type = op.infer(operands);
        } catch (ShapeMismatchException e) {
            throw new ShapeMismatchException(e.getMessage() + where());
        } catch (ArithmeticException e) { // a shape rule's exact arithmetic overflowed an int
            throw new ShapeMismatchException(op.kind() + ": a size overflows (" + e.getMessage() + ")" + where());
        }
        return add(op, operands, type.shape(), type.dtype());
    }

    /** {@code act(x·Wᵀ + bias)}: x [..., in], weight [out, in], bias [out] or null → [..., out]. */
    public Value linear(Value x, Value weight, Value bias, Activation act) {
        return apply(new ProductOps.Linear(act == null ? Activation.NONE : act, bias != null), list(x, weight, bias));
    }

    /** [M, K]·[K, N] → [M, N], or batched [B, M, K]·[B, K, N] → [B, M, N]. */
    public Value matmul(Value a, Value b) {
        return apply(new ProductOps.MatMul(), list(a, b));
    }

    /** softmax(scale·Q·Kᵀ)·V with q [B, H, Nq, d], k and v [B, H, Nk, d] → [B, H, Nq, d]. */
    public Value attention(Value q, Value k, Value v, float scale) {
        return attention(q, k, v, scale, null);
    }

    /**
     * Self-attention restricted to equal segment ids (packed sequences): ids I64 [B, N] with
     * Nq = Nk = N, or null for full attention.
     */
    public Value attention(Value q, Value k, Value v, float scale, Value segmentIds) {
        return attention(q, k, v, scale, segmentIds, null);
    }

    /**
     * Attention with either segment ids (see above) or an additive f32 {@code mask} of rank 2 to 4
     * that broadcasts to [B, H, Nq, Nk] (−inf removes a pair; e.g. a causal [Nq, Nk] mask), or
     * neither.
     */
    public Value attention(Value q, Value k, Value v, float scale, Value segmentIds, Value mask) {
        if (segmentIds != null && mask != null) {
            use("attention", q, k, v, segmentIds, mask);
            throw mismatch("attention", "takes segment ids or an additive mask, not both");
        }
        return apply(
                new ProductOps.Attention(scale, segmentIds != null, mask != null),
                list(q, k, v, segmentIds != null ? segmentIds : mask));
    }

    /** LayerNorm over the last dim; weight and bias [D] or null. */
    public Value layerNorm(Value x, Value weight, Value bias, float eps) {
        return apply(new NormalizationOps.LayerNorm(eps, weight != null, bias != null), list(x, weight, bias));
    }

    /** GroupNorm of x [N, C, *] over {@code groups} channel groups; weight and bias [C] or null. */
    public Value groupNorm(Value x, int groups, Value weight, Value bias, float eps) {
        return apply(new NormalizationOps.GroupNorm(groups, eps, weight != null, bias != null), list(x, weight, bias));
    }

    /** Softmax over the last dim. */
    public Value softmax(Value x) {
        return apply(new NormalizationOps.Softmax(), list(x));
    }

    public Value add(Value a, Value b) {
        return apply(new PointwiseOps.Binary(PointwiseOps.Arithmetic.ADD), list(a, b));
    }

    public Value sub(Value a, Value b) {
        return apply(new PointwiseOps.Binary(PointwiseOps.Arithmetic.SUB), list(a, b));
    }

    public Value mul(Value a, Value b) {
        return apply(new PointwiseOps.Binary(PointwiseOps.Arithmetic.MUL), list(a, b));
    }

    public Value div(Value a, Value b) {
        return apply(new PointwiseOps.Binary(PointwiseOps.Arithmetic.DIV), list(a, b));
    }

    /** {@code x + s}. */
    public Value addScalar(Value x, float s) {
        return apply(new PointwiseOps.Scalar(PointwiseOps.Arithmetic.ADD, s), list(x));
    }

    /** {@code x · s}. */
    public Value mulScalar(Value x, float s) {
        return apply(new PointwiseOps.Scalar(PointwiseOps.Arithmetic.MUL, s), list(x));
    }

    /** GELU, tanh approximation. */
    public Value gelu(Value x) {
        return apply(new PointwiseOps.Activate(Activation.GELU_TANH), list(x));
    }

    /** SiLU: x·σ(x). */
    public Value silu(Value x) {
        return apply(new PointwiseOps.Activate(Activation.SILU), list(x));
    }

    /** adaLN modulation {@code x·(1 + scale) + shift}; shift and scale broadcast to x's shape. */
    public Value modulate(Value x, Value shift, Value scale) {
        return apply(new PointwiseOps.Modulate(), list(x, shift, scale));
    }

    /** DiT's sinusoidal timestep embedding: t [B] of any numeric dtype → [B, dim] f32 (cosines first). */
    public Value timestepEmbedding(Value t, int dim, double maxPeriod) {
        return apply(new TableOps.TimestepEmbedding(dim, maxPeriod), list(t));
    }

    /** DiT's fixed 2-D sin-cos position table [gridH·gridW, dim] (dim divisible by 4); folded at compile time. */
    public Value sinCos2d(int gridH, int gridW, int dim) {
        return apply(new TableOps.SinCos2d(gridH, gridW, dim), List.of());
    }

    /**
     * Gathers rows of table [V, D] by integer ids [B...] → [B..., D]. An id outside [0, V) is
     * a runtime error naming this node.
     */
    public Value embedding(Value table, Value ids) {
        return apply(new TableOps.Embedding(), list(table, ids));
    }

    /** x [N, C, H, W], weight [D, C, p, p], bias [D] or null → tokens [N, (H/p)·(W/p), D]. */
    public Value patchEmbed2d(Value x, Value weight, Value bias) {
        return apply(new ConvolutionOps.PatchEmbed(2, bias != null), list(x, weight, bias));
    }

    /** x [N, C, T, H, W], weight [D, C, pt, ph, pw], bias [D] or null → tokens [N, tubelets, D]. */
    public Value patchEmbed3d(Value x, Value weight, Value bias) {
        return apply(new ConvolutionOps.PatchEmbed(3, bias != null), list(x, weight, bias));
    }

    /** x [N, C, H, W], weight [O, C, kh, kw], bias [O] or null → [N, O, Ho, Wo]. */
    public Value conv2d(Value x, Value weight, Value bias, int stride, int padding) {
        return apply(new ConvolutionOps.Conv2d(stride, padding, bias != null), list(x, weight, bias));
    }

    /** Nearest-neighbour upsampling of x [N, C, H, W] by {@code factor}. */
    public Value upsampleNearest2d(Value x, int factor) {
        return apply(new ConvolutionOps.UpsampleNearest2d(factor), list(x));
    }

    /** The same elements as {@code shape} (one -1 allowed); a view when the layout allows, else a copy. */
    public Value reshape(Value x, int... shape) {
        use("reshape", x);
        return apply(ofChecked(() -> ShapeOps.Reshape.of(x, shape)), list(x));
    }

    /** Reorders the dims (a view). */
    public Value permute(Value x, int... dims) {
        use("permute", x);
        return apply(ofChecked(() -> ShapeOps.Permute.of(x, dims)), list(x));
    }

    /** Elements [start, end) of {@code dim} (a view). */
    public Value slice(Value x, int dim, int start, int end) {
        use("slice", x);
        return apply(ofChecked(() -> ShapeOps.Slice.of(x, dim, start, end)), list(x));
    }

    /** {@code torch.chunk}: views of ⌈n/chunks⌉ along {@code dim}, the last possibly smaller. */
    public List<Value> chunk(Value x, int chunks, int dim) {
        use("chunk", x);
        int d = ofChecked(() -> ShapeRules.axis("chunk", x, dim));
        if (chunks <= 0) {
            throw mismatch("chunk", "chunk count " + chunks + " must be positive for " + ShapeRules.dims(x));
        }
        int n = x.size(d);
        int size = (n + chunks - 1) / chunks;
        int count = size == 0 ? 0 : (n + size - 1) / size;
        List<Value> out = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            out.add(slice(x, d, i * size, Math.min(n, (i + 1) * size)));
        }
        return List.copyOf(out);
    }

    /**
     * The mean over {@code dim}, which goes away ({@code torch.mean(x, dim)}): a sum to size 1
     * there, then a view without it, times 1/n. Global average pooling of tokens is
     * {@code mean(x, dim = 1)} on [B, N, D].
     */
    public Value mean(Value x, int dim) {
        use("mean", x);
        int d = ofChecked(() -> ShapeRules.axis("mean", x, dim));
        int[] kept = x.shape().clone();
        kept[d] = 1;
        int[] out = new int[x.rank() - 1];
        for (int i = 0, j = 0; i < x.rank(); i++) {
            if (i != d) {
                out[j++] = x.size(i);
            }
        }
        Value sum = apply(ofChecked(() -> new GradientOps.SumTo(kept)), list(x));
        return mulScalar(reshape(sum, out), 1f / x.size(d));
    }

    /** Concatenation along {@code dim}; other dims and dtypes must agree (a copy). */
    public Value concat(List<Value> xs, int dim) {
        return apply(ofChecked(() -> ShapeOps.Concat.of(xs, dim)), xs);
    }

    /** Inserts a dim of size 1 at {@code dim} (a view). */
    public Value unsqueeze(Value x, int dim) {
        use("unsqueeze", x);
        return apply(ofChecked(() -> ShapeOps.Unsqueeze.of(x, dim)), list(x));
    }

    /** A row-major copy (free when x already is row-major). */
    public Value contiguous(Value x) {
        return apply(new ShapeOps.Contiguous(), list(x));
    }

    /** Broadcasts x to {@code shape} ({@code -1} keeps a dim) and materialises it, like einops repeat. */
    public Value expand(Value x, int... shape) {
        use("expand", x);
        return apply(ofChecked(() -> ShapeOps.Expand.of(x, shape)), list(x));
    }

    /** A converting copy to {@code dtype} (folded once for constants, e.g. BF16 weights). */
    public Value cast(Value x, DType dtype) {
        return apply(new ShapeOps.Cast(dtype), list(x));
    }

    /** Swaps two dims (a view). */
    public Value transpose(Value x, int dim0, int dim1) {
        int[] order = new int[x.rank()];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        int a = ofChecked(() -> ShapeRules.axis("transpose", x, dim0));
        int b = ofChecked(() -> ShapeRules.axis("transpose", x, dim1));
        order[a] = b;
        order[b] = a;
        return permute(x, order);
    }

    /** {@code make}'s result; its shape error, if any, with the current source location. */
    private <T> T ofChecked(java.util.function.Supplier<T> make) {
        try {
            return make.get();
        } catch (ShapeMismatchException e) {
            throw new ShapeMismatchException(e.getMessage() + where());
        } catch (ArithmeticException e) { // a shape rule's exact arithmetic overflowed an int
            throw new ShapeMismatchException("a size overflows (" + e.getMessage() + ")" + where());
        }
    }

    // ---------------------------------------------------------------- outputs

    /** Names {@code v} as an output of the graph. */
    public void output(String name, Value v) {
        use("output", v);
        if (outputs.putIfAbsent(name, v) != null) {
            throw new IllegalArgumentException("output: '" + name + "' is declared twice" + where());
        }
    }

    /** The graph built so far (the builder may go on; later graphs include earlier nodes). */
    public Graph build() {
        if (outputs.isEmpty()) {
            throw new IllegalStateException("graph: no outputs declared; call output(name, value)");
        }
        return new Graph(nodes, inputs, outputs, nextId);
    }

    // ---------------------------------------------------------------- helpers

    private Value add(Op op, List<Value> operands, int[] shape, DType dtype) {
        if (nodes.size() >= MAX_NODES) {
            throw new GraphTooLargeException("the graph grows past " + MAX_NODES + " nodes" + where()
                    + "; a loop or repeat count is likely far larger than intended");
        }
        if (Shapes.boundedNumel(shape) < 0) {
            throw new ShapeMismatchException(op.kind() + ": the result " + Shapes.toString(shape)
                    + " has more than 2^36" + " elements" + where());
        }
        Value out = new Value(nextId++, shape, dtype);
        nodes.add(new Node(op, operands, out, location));
        defined.put(out.id(), out);
        return out;
    }

    /** Operands without the absent (null) optional ones. */
    private static List<Value> list(Value... vs) {
        List<Value> out = new ArrayList<>(vs.length);
        for (Value v : vs) {
            if (v != null) {
                out.add(v);
            }
        }
        return out;
    }

    /** Checks that each non-null operand was built by this builder. */
    private void use(String op, Value... vs) {
        for (Value v : vs) {
            if (v != null && defined.get(v.id()) != v) {
                throw new IllegalArgumentException(
                        op + ": operand " + v + " was not built by this GraphBuilder" + where());
            }
        }
    }

    private static void checkDims(String op, int[] shape) {
        for (int d : shape) {
            if (d < 0) {
                throw new ShapeMismatchException(op + ": negative dimension in " + Shapes.toString(shape));
            }
        }
    }

    private ShapeMismatchException mismatch(String op, String detail) {
        return new ShapeMismatchException(op + ": " + detail + where());
    }

    private String where() {
        return location == null ? "" : " (at " + location + ")";
    }
}
