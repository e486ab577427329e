package org.tessera.dsl.sema;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.tessera.engine.graph.GraphBuilder;
import org.tessera.engine.graph.Value;

/** Built-ins that rearrange tensors: reshape, permute, chunk, split, concat, rearrange, repeat. */
final class ShapeBuiltins {
    private ShapeBuiltins() {}

    static void register(Map<String, Builtin> m) {
        Builtins.add(
                m,
                Builtin.of(
                        Signature.of("reshape", 2, "x", "shape"),
                        (c, a) -> TensorBuiltins.tensor(c.graph().reshape(a.tensor("x"), a.ints("shape")))));
        Builtins.add(
                m,
                Builtin.of(
                        Signature.of("permute", 2, "x", "dims"),
                        (c, a) -> TensorBuiltins.tensor(c.graph().permute(a.tensor("x"), a.ints("dims")))));
        Builtins.add(m, Builtin.of(Signature.of("transpose", 3, "x", "dim0", "dim1"), ShapeBuiltins::transpose));
        Builtins.add(
                m,
                Builtin.of(
                        Signature.of("unsqueeze", 2, "x", "dim"),
                        (c, a) -> TensorBuiltins.tensor(c.graph().unsqueeze(a.tensor("x"), a.intValue("dim")))));
        Builtins.add(
                m,
                Builtin.of(
                        Signature.of("contiguous", 1, "x"),
                        (c, a) -> TensorBuiltins.tensor(c.graph().contiguous(a.tensor("x")))));
        Builtins.add(
                m,
                Builtin.of(
                        Signature.of("chunk", 2, "x", "chunks", "dim"),
                        (c, a) -> list(c.graph().chunk(a.tensor("x"), a.intValue("chunks"), a.intValue("dim", -1)))));
        Builtins.add(m, Builtin.of(Signature.of("split", 2, "x", "size", "dim"), ShapeBuiltins::split));
        Builtins.add(m, Builtin.of(Signature.of("pad", 2, "x", "widths"), ShapeBuiltins::pad));
        Builtins.add(
                m,
                Builtin.of(
                        Signature.of("concat", 1, "xs", "dim"),
                        (c, a) -> TensorBuiltins.tensor(c.graph().concat(a.tensors("xs"), a.intValue("dim", 0)))));
        Builtins.add(
                m,
                Builtin.of(
                        Signature.withExtraKeywords("rearrange", 2, "x", "pattern"),
                        (c, a) -> TensorBuiltins.tensor(Rearrange.apply(
                                c.graph(), a.tensor("x"), "rearrange", a.string("pattern"), sizes(a), false))));
        Builtins.add(
                m,
                Builtin.of(
                        Signature.of("unpatchify", 3, "x", "patch", "channels", "grid_h"), ShapeBuiltins::unpatchify));
        Builtins.add(
                m,
                Builtin.of(
                        Signature.withExtraKeywords("repeat", 2, "x", "pattern"),
                        (c, a) -> TensorBuiltins.tensor(Rearrange.apply(
                                c.graph(), a.tensor("x"), "repeat", a.string("pattern"), sizes(a), true))));
    }

    private static CompileValue transpose(LoweringContext c, BoundArgs a) {
        Value x = a.tensor("x");
        int[] perm = new int[x.rank()];
        for (int i = 0; i < perm.length; i++) {
            perm[i] = i;
        }
        int d0 = norm(a.intValue("dim0"), x.rank());
        int d1 = norm(a.intValue("dim1"), x.rank());
        perm[d0] = d1;
        perm[d1] = d0;
        return TensorBuiltins.tensor(c.graph().permute(x, perm));
    }

    /** split(x, size, dim): pieces of {@code size} along dim (the last may be smaller). */
    private static CompileValue split(LoweringContext c, BoundArgs a) {
        GraphBuilder g = c.graph();
        Value x = a.tensor("x");
        int dim = norm(a.intValue("dim", -1), x.rank());
        int size = a.intValue("size");
        if (size <= 0) {
            throw new CompileError("split: size must be positive, got " + size);
        }
        List<Value> parts = new ArrayList<>();
        for (int start = 0; start < x.size(dim); start += size) {
            parts.add(g.slice(x, dim, start, Math.min(x.size(dim), start + size)));
        }
        return list(parts);
    }

    /**
     * pad(x, [left, right, top, bottom, ...]): zeros around the last dims, in the order of
     * PyTorch's {@code F.pad} (the last dim's pair first). A VAE's down-sampling conv pads only
     * right and bottom, {@code pad(x, [0, 1, 0, 1])}, which a symmetric conv padding cannot say.
     * The zeros are joined on with a concat per padded dim.
     */
    private static CompileValue pad(LoweringContext c, BoundArgs a) {
        GraphBuilder g = c.graph();
        Value x = a.tensor("x");
        int[] widths = a.ints("widths");
        if (widths.length % 2 != 0 || widths.length / 2 > x.rank()) {
            throw new CompileError("pad: widths are pairs (before, after) from the last dim back, at most " + x.rank()
                    + " of them for a " + x.rank() + "-D tensor; got " + java.util.Arrays.toString(widths));
        }
        for (int k = 0; k < widths.length / 2; k++) {
            int dim = x.rank() - 1 - k;
            int before = widths[2 * k];
            int after = widths[2 * k + 1];
            if (before < 0 || after < 0) {
                throw new CompileError("pad: widths must be ≥ 0, got " + java.util.Arrays.toString(widths));
            }
            List<Value> parts = new ArrayList<>();
            if (before > 0) {
                parts.add(zeros(g, x, dim, before));
            }
            parts.add(x);
            if (after > 0) {
                parts.add(zeros(g, x, dim, after));
            }
            if (parts.size() > 1) {
                x = g.concat(parts, dim);
            }
        }
        return TensorBuiltins.tensor(x);
    }

    /** A zero constant shaped like x but {@code size} long on {@code dim}. */
    private static Value zeros(GraphBuilder g, Value x, int dim, int size) {
        int[] shape = x.shape();
        shape[dim] = size;
        return g.constant("zeros", org.tessera.engine.tensor.Tensor.zeros(x.dtype(), shape));
    }

    /**
     * DiT's unpatchify: tokens [B, gh·gw, p·p·c] → images [B, c, gh·p, gw·p], each token's features
     * read as a p×p patch of c channels. The grid is square unless {@code grid_h} is given.
     */
    private static CompileValue unpatchify(LoweringContext c, BoundArgs a) {
        Value x = a.tensor("x");
        if (x.rank() != 3) {
            throw new CompileError(
                    "unpatchify: expects tokens [B, T, p·p·c], got " + java.util.Arrays.toString(x.shape()));
        }
        int p = a.intValue("patch");
        int ch = a.intValue("channels");
        int tokens = x.size(1);
        int gh = a.has("grid_h") ? a.intValue("grid_h") : (int) Math.round(Math.sqrt(tokens));
        if (gh <= 0 || tokens % gh != 0) {
            throw new CompileError("unpatchify: " + tokens + " tokens do not form a grid with " + gh + " rows");
        }
        Map<String, Long> sizes = Map.of("gh", (long) gh, "p", (long) p, "q", (long) p, "c", (long) ch);
        return TensorBuiltins.tensor(
                Rearrange.apply(c.graph(), x, "unpatchify", "b (gh gw) (p q c) -> b c (gh p) (gw q)", sizes, false));
    }

    private static Map<String, Long> sizes(BoundArgs a) {
        Map<String, Long> out = new HashMap<>();
        for (Map.Entry<String, CompileValue> e : a.extra().entrySet()) {
            if (!(e.getValue() instanceof CompileValue.IntV i)) {
                throw new CompileError("axis size " + e.getKey() + " must be an int, got "
                        + e.getValue().describe());
            }
            out.put(e.getKey(), i.value());
        }
        return out;
    }

    private static int norm(int dim, int rank) {
        int d = dim < 0 ? dim + rank : dim;
        if (d < 0 || d >= rank) {
            throw new CompileError("dim " + dim + " out of range for a " + rank + "-D tensor");
        }
        return d;
    }

    static CompileValue list(List<Value> values) {
        List<CompileValue> items = new ArrayList<>();
        for (Value v : values) {
            items.add(TensorBuiltins.tensor(v));
        }
        return new CompileValue.ListV(items);
    }
}
