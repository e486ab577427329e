package org.tessera.engine.graph;

import java.util.ArrayList;
import java.util.Arrays;
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
        Value v = add(new Op.Input(name), List.of(), shape, dtype);
        inputs.put(name, v);
        return v;
    }

    /** A constant tensor (weights, usually memory-mapped; tables). It is used in place, never copied. */
    public Value constant(String name, Tensor value) {
        return add(new Op.Constant(name, value), List.of(), value.shape(), value.dtype());
    }

    // ---------------------------------------------------------------- products

    /** {@code act(x·Wᵀ + bias)}: x [..., in], weight [out, in], bias [out] or null → [..., out]. */
    public Value linear(Value x, Value weight, Value bias, Activation act) {
        String op = "linear";
        use(op, x, weight, bias);
        f32(op, x, weight, bias);
        if (x.rank() < 1 || weight.rank() != 2 || x.size(-1) != weight.size(1)) {
            throw mismatch(
                    op,
                    "input " + dims(x) + " and weight " + dims(weight) + " do not fit (x [..., in], weight [out, in])");
        }
        if (bias != null && (bias.rank() != 1 || bias.size(0) != weight.size(0))) {
            throw mismatch(op, "bias " + dims(bias) + " must be [" + weight.size(0) + "] for weight " + dims(weight));
        }
        int[] shape = x.shape();
        shape[shape.length - 1] = weight.size(0);
        return add(
                new Op.Linear(act == null ? Activation.NONE : act, bias != null),
                list(x, weight, bias),
                shape,
                DType.F32);
    }

    /** [M, K]·[K, N] → [M, N], or batched [B, M, K]·[B, K, N] → [B, M, N]. */
    public Value matmul(Value a, Value b) {
        String op = "matmul";
        use(op, a, b);
        f32(op, a, b);
        int r = a.rank();
        boolean ok =
                r == b.rank() && (r == 2 || r == 3) && a.size(-1) == b.size(-2) && (r == 2 || a.size(0) == b.size(0));
        if (!ok) {
            throw mismatch(
                    op, "A " + dims(a) + " and B " + dims(b) + " do not fit ([M, K]·[K, N] or [B, M, K]·[B, K, N])");
        }
        int[] shape = a.shape();
        shape[r - 1] = b.size(-1);
        return add(new Op.MatMul(), List.of(a, b), shape, DType.F32);
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
        String op = "attention";
        use(op, q, k, v, segmentIds, mask);
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
            if (segmentIds != null) {
                throw mismatch(op, "takes segment ids or an additive mask, not both");
            }
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
                                + " must be f32 and broadcast to [B, H, Nq, Nk] = "
                                + java.util.Arrays.toString(target));
            }
        }
        return add(
                new Op.Attention(scale, segmentIds != null, mask != null),
                list(q, k, v, segmentIds != null ? segmentIds : mask),
                q.shape(),
                DType.F32);
    }

    // ---------------------------------------------------------------- normalisation

    /** LayerNorm over the last dim; weight and bias [D] or null. */
    public Value layerNorm(Value x, Value weight, Value bias, float eps) {
        String op = "layerNorm";
        use(op, x, weight, bias);
        f32(op, x, weight, bias);
        if (x.rank() < 1) {
            throw mismatch(op, "input " + dims(x) + " needs at least one dimension");
        }
        vector(op, "weight", weight, x.size(-1), x);
        vector(op, "bias", bias, x.size(-1), x);
        return add(new Op.LayerNorm(eps, weight != null, bias != null), list(x, weight, bias), x.shape(), DType.F32);
    }

    /** GroupNorm of x [N, C, *] over {@code groups} channel groups; weight and bias [C] or null. */
    public Value groupNorm(Value x, int groups, Value weight, Value bias, float eps) {
        String op = "groupNorm";
        use(op, x, weight, bias);
        f32(op, x, weight, bias);
        if (x.rank() < 2 || groups <= 0 || x.size(1) % groups != 0) {
            throw mismatch(op, "input " + dims(x) + " must be [N, C, *] with C divisible by " + groups + " groups");
        }
        vector(op, "weight", weight, x.size(1), x);
        vector(op, "bias", bias, x.size(1), x);
        return add(
                new Op.GroupNorm(groups, eps, weight != null, bias != null),
                list(x, weight, bias),
                x.shape(),
                DType.F32);
    }

    /** Softmax over the last dim. */
    public Value softmax(Value x) {
        use("softmax", x);
        f32("softmax", x);
        if (x.rank() < 1) {
            throw mismatch("softmax", "input " + dims(x) + " needs at least one dimension");
        }
        return add(new Op.Softmax(), List.of(x), x.shape(), DType.F32);
    }

    // ---------------------------------------------------------------- pointwise

    public Value add(Value a, Value b) {
        return binary(Op.Arithmetic.ADD, a, b);
    }

    public Value sub(Value a, Value b) {
        return binary(Op.Arithmetic.SUB, a, b);
    }

    public Value mul(Value a, Value b) {
        return binary(Op.Arithmetic.MUL, a, b);
    }

    public Value div(Value a, Value b) {
        return binary(Op.Arithmetic.DIV, a, b);
    }

    private Value binary(Op.Arithmetic arithmetic, Value a, Value b) {
        Op.Binary binary = new Op.Binary(arithmetic);
        String op = binary.kind();
        use(op, a, b);
        f32(op, a, b);
        int[] shape;
        try {
            shape = Shapes.broadcast(op, a.shape(), b.shape());
        } catch (ShapeMismatchException e) {
            throw mismatch(op, "a " + dims(a) + " and b " + dims(b) + " do not broadcast");
        }
        return add(binary, List.of(a, b), shape, DType.F32);
    }

    /** {@code x + s}. */
    public Value addScalar(Value x, float s) {
        return scalar(Op.Arithmetic.ADD, x, s);
    }

    /** {@code x · s}. */
    public Value mulScalar(Value x, float s) {
        return scalar(Op.Arithmetic.MUL, x, s);
    }

    private Value scalar(Op.Arithmetic arithmetic, Value x, float s) {
        Op.Scalar scalar = new Op.Scalar(arithmetic, s);
        use(scalar.kind(), x);
        f32(scalar.kind(), x);
        return add(scalar, List.of(x), x.shape(), DType.F32);
    }

    /** GELU, tanh approximation. */
    public Value gelu(Value x) {
        return activate(Activation.GELU_TANH, x);
    }

    /** SiLU: x·σ(x). */
    public Value silu(Value x) {
        return activate(Activation.SILU, x);
    }

    private Value activate(Activation activation, Value x) {
        Op.Activate a = new Op.Activate(activation);
        use(a.kind(), x);
        f32(a.kind(), x);
        return add(a, List.of(x), x.shape(), DType.F32);
    }

    /** adaLN modulation {@code x·(1 + scale) + shift}; shift and scale broadcast to x's shape. */
    public Value modulate(Value x, Value shift, Value scale) {
        String op = "modulate";
        use(op, x, shift, scale);
        f32(op, x, shift, scale);
        if (!broadcastsTo(shift.shape(), x.shape()) || !broadcastsTo(scale.shape(), x.shape())) {
            throw mismatch(
                    op, "shift " + dims(shift) + " and scale " + dims(scale) + " must broadcast to x " + dims(x));
        }
        return add(new Op.Modulate(), List.of(x, shift, scale), x.shape(), DType.F32);
    }

    // ---------------------------------------------------------------- tables

    /** DiT's sinusoidal timestep embedding: t [B] of any numeric dtype → [B, dim] f32 (cosines first). */
    public Value timestepEmbedding(Value t, int dim, double maxPeriod) {
        String op = "timestepEmbedding";
        use(op, t);
        if (t.rank() != 1 || dim <= 0) {
            throw mismatch(op, "t " + dims(t) + " must be [B] and dim " + dim + " positive");
        }
        return add(new Op.TimestepEmbedding(dim, maxPeriod), List.of(t), new int[] {t.size(0), dim}, DType.F32);
    }

    /** DiT's fixed 2-D sin-cos position table [gridH·gridW, dim] (dim divisible by 4); folded at compile time. */
    public Value sinCos2d(int gridH, int gridW, int dim) {
        if (gridH <= 0 || gridW <= 0 || dim <= 0 || dim % 4 != 0) {
            throw mismatch(
                    "sinCos2d",
                    "grid " + gridH + "x" + gridW + " and dim " + dim + " must be positive, dim divisible by 4");
        }
        return add(new Op.SinCos2d(gridH, gridW, dim), List.of(), new int[] {gridH * gridW, dim}, DType.F32);
    }

    /**
     * Gathers rows of table [V, D] by integer ids [B...] → [B..., D]. An id outside [0, V) is
     * a runtime error naming this node.
     */
    public Value embedding(Value table, Value ids) {
        String op = "embedding";
        use(op, table, ids);
        if (table.rank() != 2 || ids.dtype().isFloatingPoint()) {
            throw mismatch(
                    op,
                    "table " + table.dtype().shortName() + dims(table) + " must be [V, D] and ids "
                            + ids.dtype().shortName() + dims(ids) + " integer");
        }
        int[] shape = Arrays.copyOf(ids.shape(), ids.rank() + 1);
        shape[ids.rank()] = table.size(1);
        return add(new Op.Embedding(), List.of(table, ids), shape, table.dtype());
    }

    // ---------------------------------------------------------------- convolutions

    /** x [N, C, H, W], weight [D, C, p, p], bias [D] or null → tokens [N, (H/p)·(W/p), D]. */
    public Value patchEmbed2d(Value x, Value weight, Value bias) {
        return patchEmbed(2, x, weight, bias);
    }

    /** x [N, C, T, H, W], weight [D, C, pt, ph, pw], bias [D] or null → tokens [N, tubelets, D]. */
    public Value patchEmbed3d(Value x, Value weight, Value bias) {
        return patchEmbed(3, x, weight, bias);
    }

    private Value patchEmbed(int spatial, Value x, Value weight, Value bias) {
        String op = "patchEmbed" + spatial + "d";
        use(op, x, weight, bias);
        f32(op, x, weight, bias);
        int rank = spatial + 2;
        if (x.rank() != rank || weight.rank() != rank || x.size(1) != weight.size(1)) {
            throw mismatch(
                    op,
                    "input " + dims(x) + " and weight " + dims(weight) + " must be " + rank + "-D with equal channels");
        }
        int tokens = 1;
        for (int i = 2; i < rank; i++) {
            if (weight.size(i) == 0 || x.size(i) % weight.size(i) != 0) {
                throw mismatch(op, "input " + dims(x) + " is not divisible into patches of weight " + dims(weight));
            }
            tokens *= x.size(i) / weight.size(i);
        }
        vector(op, "bias", bias, weight.size(0), weight);
        return add(
                new Op.PatchEmbed(spatial, bias != null),
                list(x, weight, bias),
                new int[] {x.size(0), tokens, weight.size(0)},
                DType.F32);
    }

    /** x [N, C, H, W], weight [O, C, kh, kw], bias [O] or null → [N, O, Ho, Wo]. */
    public Value conv2d(Value x, Value weight, Value bias, int stride, int padding) {
        String op = "conv2d";
        use(op, x, weight, bias);
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
                    "kernel of weight " + dims(weight) + " does not fit input " + dims(x) + " padded by " + padding);
        }
        vector(op, "bias", bias, weight.size(0), weight);
        int[] shape = {x.size(0), weight.size(0), hp / stride + 1, wp / stride + 1};
        return add(new Op.Conv2d(stride, padding, bias != null), list(x, weight, bias), shape, DType.F32);
    }

    /** Nearest-neighbour upsampling of x [N, C, H, W] by {@code factor}. */
    public Value upsampleNearest2d(Value x, int factor) {
        String op = "upsampleNearest2d";
        use(op, x);
        f32(op, x);
        if (x.rank() != 4 || factor < 1) {
            throw mismatch(op, "input " + dims(x) + " must be [N, C, H, W] and factor " + factor + " at least 1");
        }
        int[] shape = {x.size(0), x.size(1), x.size(2) * factor, x.size(3) * factor};
        return add(new Op.UpsampleNearest2d(factor), List.of(x), shape, DType.F32);
    }

    // ---------------------------------------------------------------- shape ops

    /** The same elements as {@code shape} (one -1 allowed); a view when the layout allows, else a copy. */
    public Value reshape(Value x, int... shape) {
        String op = "reshape";
        use(op, x);
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
        return add(new Op.Reshape(target), List.of(x), target, x.dtype());
    }

    /** Reorders the dims (a view). */
    public Value permute(Value x, int... dims) {
        String op = "permute";
        use(op, x);
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
            throw mismatch(op, Arrays.toString(dims) + " is not a permutation of the dims of " + dims(x));
        }
        int[] shape = new int[r];
        for (int i = 0; i < r; i++) {
            shape[i] = x.size(order[i]);
        }
        return add(new Op.Permute(order), List.of(x), shape, x.dtype());
    }

    /** Elements [start, end) of {@code dim} (a view). */
    public Value slice(Value x, int dim, int start, int end) {
        String op = "slice";
        use(op, x);
        int d = dim(op, x, dim);
        if (start < 0 || start > end || end > x.size(d)) {
            throw mismatch(op, "[" + start + ":" + end + "] out of range for dim " + d + " of " + dims(x));
        }
        int[] shape = x.shape();
        shape[d] = end - start;
        return add(new Op.Slice(d, start, end), List.of(x), shape, x.dtype());
    }

    /** {@code torch.chunk}: views of ⌈n/chunks⌉ along {@code dim}, the last possibly smaller. */
    public List<Value> chunk(Value x, int chunks, int dim) {
        use("chunk", x);
        int d = dim("chunk", x, dim);
        if (chunks <= 0) {
            throw mismatch("chunk", "chunk count " + chunks + " must be positive for " + dims(x));
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

    /** Concatenation along {@code dim}; other dims and dtypes must agree (a copy). */
    public Value concat(List<Value> xs, int dim) {
        String op = "concat";
        if (xs == null || xs.isEmpty()) {
            throw mismatch(op, "needs at least one operand");
        }
        Value first = xs.get(0);
        int d = dim(op, first, dim);
        int total = 0;
        for (Value v : xs) {
            use(op, v);
            boolean ok = v.rank() == first.rank() && v.dtype() == first.dtype();
            for (int i = 0; ok && i < v.rank(); i++) {
                ok = i == d || v.size(i) == first.size(i);
            }
            if (!ok) {
                throw mismatch(
                        op,
                        "operands " + xs.stream().map(GraphBuilder::dims).toList() + " differ outside dim " + d
                                + " (or in dtype)");
            }
            total += v.size(d);
        }
        int[] shape = first.shape();
        shape[d] = total;
        return add(new Op.Concat(d), xs, shape, first.dtype());
    }

    /** Inserts a dim of size 1 at {@code dim} (a view). */
    public Value unsqueeze(Value x, int dim) {
        use("unsqueeze", x);
        int r = x.rank();
        int d = dim < 0 ? dim + r + 1 : dim;
        if (d < 0 || d > r) {
            throw mismatch("unsqueeze", "dim " + dim + " out of range for " + dims(x));
        }
        int[] shape = new int[r + 1];
        for (int i = 0, j = 0; i <= r; i++) {
            shape[i] = i == d ? 1 : x.size(j++);
        }
        return add(new Op.Unsqueeze(d), List.of(x), shape, x.dtype());
    }

    /** A row-major copy (free when x already is row-major). */
    public Value contiguous(Value x) {
        use("contiguous", x);
        return add(new Op.Contiguous(), List.of(x), x.shape(), x.dtype());
    }

    /** Broadcasts x to {@code shape} ({@code -1} keeps a dim) and materialises it, like einops repeat. */
    public Value expand(Value x, int... shape) {
        String op = "expand";
        use(op, x);
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
            throw mismatch(op, dims(x) + " cannot broadcast to " + Shapes.toString(shape));
        }
        return add(new Op.Expand(out), List.of(x), out, x.dtype());
    }

    /** A converting copy to {@code dtype} (folded once for constants, e.g. BF16 weights). */
    public Value cast(Value x, DType dtype) {
        use("cast", x);
        return add(new Op.Cast(dtype), List.of(x), x.shape(), dtype);
    }

    /** Swaps two dims (a view). */
    public Value transpose(Value x, int dim0, int dim1) {
        int[] order = new int[x.rank()];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        int a = dim("transpose", x, dim0);
        int b = dim("transpose", x, dim1);
        order[a] = b;
        order[b] = a;
        return permute(x, order);
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

    private void f32(String op, Value... vs) {
        for (Value v : vs) {
            if (v != null && v.dtype() != DType.F32) {
                throw mismatch(op, "operand " + v.dtype().shortName() + dims(v) + " must be f32 (use cast)");
            }
        }
    }

    private void vector(String op, String what, Value v, int n, Value of) {
        if (v != null && (v.rank() != 1 || v.size(0) != n)) {
            throw mismatch(op, what + " " + dims(v) + " must be [" + n + "] for " + dims(of));
        }
    }

    private int dim(String op, Value x, int dim) {
        int d = dim < 0 ? dim + x.rank() : dim;
        if (d < 0 || d >= x.rank()) {
            throw mismatch(op, "dim " + dim + " out of range for " + dims(x));
        }
        return d;
    }

    private static boolean broadcastsTo(int[] s, int[] shape) {
        if (s.length > shape.length) {
            return false;
        }
        for (int i = 0; i < s.length; i++) {
            int want = shape[shape.length - s.length + i];
            if (s[i] != want && s[i] != 1) {
                return false;
            }
        }
        return true;
    }

    private static void checkDims(String op, int[] shape) {
        for (int d : shape) {
            if (d < 0) {
                throw new ShapeMismatchException(op + ": negative dimension in " + Shapes.toString(shape));
            }
        }
    }

    private static String dims(Value v) {
        return Shapes.toString(v.shape());
    }

    private ShapeMismatchException mismatch(String op, String detail) {
        return new ShapeMismatchException(op + ": " + detail + where());
    }

    private String where() {
        return location == null ? "" : " (at " + location + ")";
    }
}
