package org.tessera.dsl.sema;

import java.util.List;
import java.util.Map;
import org.tessera.engine.backend.Activation;
import org.tessera.engine.graph.GraphBuilder;
import org.tessera.engine.graph.PointwiseOps;
import org.tessera.engine.graph.PositionTables;
import org.tessera.engine.graph.Value;

/** Built-ins that compute on tensors: layers, activations, attention, embeddings, convolutions. */
final class TensorBuiltins {
    private TensorBuiltins() {}

    static void register(Map<String, Builtin> m) {
        Builtins.add(
                m,
                Builtin.of(
                        Signature.of("linear", 2, "x", "weight", "bias"),
                        (c, a) -> tensor(c.graph()
                                .linear(
                                        a.tensor("x"),
                                        a.tensor("weight"),
                                        a.optionalTensor("bias"),
                                        Activation.NONE))));
        Builtins.add(
                m,
                Builtin.of(
                        Signature.of("matmul", 2, "a", "b"),
                        (c, a) -> tensor(c.graph().matmul(a.tensor("a"), a.tensor("b")))));
        Builtins.add(
                m,
                Builtin.of(
                        Signature.of("layernorm", 1, "x", "weight", "bias", "eps"),
                        (c, a) -> tensor(c.graph()
                                .layerNorm(a.tensor("x"), a.optionalTensor("weight"), a.optionalTensor("bias"), (float)
                                        a.number("eps", 1e-5)))));
        Builtins.add(
                m,
                Builtin.of(
                        Signature.of("groupnorm", 2, "x", "groups", "weight", "bias", "eps"),
                        (c, a) -> tensor(c.graph()
                                .groupNorm(
                                        a.tensor("x"),
                                        a.intValue("groups"),
                                        a.optionalTensor("weight"),
                                        a.optionalTensor("bias"),
                                        (float) a.number("eps", 1e-5)))));
        Builtins.add(
                m,
                Builtin.of(
                        Signature.of("softmax", 1, "x"),
                        (c, a) -> tensor(c.graph().softmax(a.tensor("x")))));
        Builtins.add(
                m,
                Builtin.of(
                        Signature.of("mean", 2, "x", "dim"),
                        (c, a) -> tensor(c.graph().mean(a.tensor("x"), a.intValue("dim")))));
        Builtins.add(
                m,
                Builtin.of(
                        Signature.of("gelu", 1, "x"), (c, a) -> tensor(c.graph().gelu(a.tensor("x")))));
        Builtins.add(
                m,
                Builtin.of(
                        Signature.of("silu", 1, "x"), (c, a) -> tensor(c.graph().silu(a.tensor("x")))));
        Builtins.add(
                m,
                Builtin.of(
                        Signature.of("clamp", 3, "x", "min", "max"),
                        (c, a) -> tensor(c.graph()
                                .apply(
                                        new PointwiseOps.Clamp((float) a.number("min", 0), (float) a.number("max", 0)),
                                        List.of(a.tensor("x"))))));
        Builtins.add(
                m,
                Builtin.of(
                        Signature.of("modulate", 3, "x", "shift", "scale"),
                        (c, a) -> tensor(c.graph().modulate(a.tensor("x"), a.tensor("shift"), a.tensor("scale")))));
        Builtins.add(
                m,
                Builtin.of(
                        Signature.of("attention", 3, "q", "k", "v", "scale", "segments", "mask"),
                        TensorBuiltins::attention));
        Builtins.add(
                m,
                Builtin.of(
                        Signature.of("timestep_embedding", 2, "t", "dim", "max_period"),
                        (c, a) -> tensor(c.graph()
                                .timestepEmbedding(a.tensor("t"), a.intValue("dim"), a.number("max_period", 10000)))));
        Builtins.add(
                m,
                Builtin.of(
                        Signature.of("sincos_2d", 3, "grid_h", "grid_w", "dim"),
                        (c, a) -> tensor(
                                c.graph().sinCos2d(a.intValue("grid_h"), a.intValue("grid_w"), a.intValue("dim")))));
        Builtins.add(
                m,
                Builtin.of(
                        Signature.of("sample_frames", 2, "x", "count", "stride", "start", "dim"),
                        TensorBuiltins::sampleFrames));
        Builtins.add(
                m,
                Builtin.of(
                        Signature.of("sincos_1d", 2, "length", "dim"),
                        (c, a) -> tensor(c.graph()
                                .constant(
                                        "sincos_1d",
                                        PositionTables.sinCos1d(a.intValue("length"), a.intValue("dim"))))));
        Builtins.add(
                m,
                Builtin.of(
                        Signature.of("sincos_3d", 4, "grid_t", "grid_h", "grid_w", "dim"),
                        (c, a) -> tensor(c.graph()
                                .constant(
                                        "sincos_3d",
                                        PositionTables.sinCos3d(
                                                a.intValue("grid_t"),
                                                a.intValue("grid_h"),
                                                a.intValue("grid_w"),
                                                a.intValue("dim"))))));
        Builtins.add(
                m,
                Builtin.of(
                        Signature.of("rope_3d", 5, "x", "grid_t", "grid_h", "grid_w", "sections", "theta"),
                        (c, a) -> tensor(PositionTables.rope3d(
                                c.graph(),
                                a.tensor("x"),
                                a.intValue("grid_t"),
                                a.intValue("grid_h"),
                                a.intValue("grid_w"),
                                a.ints("sections"),
                                a.number("theta", 10000)))));
        Builtins.add(m, Builtin.of(Signature.of("rope", 4, "x", "cos", "sin", "sections"), TensorBuiltins::rope));
        Builtins.add(
                m,
                Builtin.of(
                        Signature.of("embedding", 2, "table", "ids"),
                        (c, a) -> tensor(c.graph().embedding(a.tensor("table"), a.tensor("ids")))));
        Builtins.add(
                m,
                Builtin.of(
                        Signature.of("patch_embed", 2, "x", "weight", "bias"),
                        (c, a) -> tensor(
                                c.graph().patchEmbed2d(a.tensor("x"), a.tensor("weight"), a.optionalTensor("bias")))));
        Builtins.add(
                m,
                Builtin.of(
                        Signature.of("patch_embed_3d", 2, "x", "weight", "bias"),
                        (c, a) -> tensor(
                                c.graph().patchEmbed3d(a.tensor("x"), a.tensor("weight"), a.optionalTensor("bias")))));
        Builtins.add(
                m,
                Builtin.of(
                        Signature.of("conv2d", 2, "x", "weight", "bias", "stride", "padding"),
                        (c, a) -> tensor(c.graph()
                                .conv2d(
                                        a.tensor("x"),
                                        a.tensor("weight"),
                                        a.optionalTensor("bias"),
                                        a.intValue("stride", 1),
                                        a.intValue("padding", 0)))));
        Builtins.add(
                m,
                Builtin.of(
                        Signature.of("upsample", 2, "x", "factor"),
                        (c, a) -> tensor(c.graph().upsampleNearest2d(a.tensor("x"), a.intValue("factor")))));
    }

    private static CompileValue attention(LoweringContext c, BoundArgs a) {
        GraphBuilder g = c.graph();
        Value q = a.tensor("q");
        double scale = a.number("scale", 1.0 / Math.sqrt(q.size(-1)));
        return tensor(g.attention(
                q,
                a.tensor("k"),
                a.tensor("v"),
                (float) scale,
                a.has("segments") ? a.tensor("segments") : null,
                a.has("mask") ? a.tensor("mask") : null));
    }

    static CompileValue tensor(Value v) {
        return new CompileValue.TensorV(v);
    }

    /**
     * Uniform frame sampling, the first tokenisation of the Sora notes: {@code count} frames of x
     * along {@code dim} (1 by default, the frames of [B, F, C, H, W]) at {@code start},
     * start + stride, …, joined in order.
     */
    private static CompileValue sampleFrames(LoweringContext c, BoundArgs a) {
        Value x = a.tensor("x");
        int count = a.intValue("count");
        int stride = a.intValue("stride", 1);
        int start = a.intValue("start", 0);
        int dim = a.intValue("dim", 1);
        if (dim < 0 || dim >= x.rank()) {
            throw new CompileError(
                    "sample_frames: dim " + dim + " is not an axis of " + java.util.Arrays.toString(x.shape()));
        }
        int frames = x.shape()[dim];
        long last = start + (long) (count - 1) * stride;
        if (count < 1 || stride < 1 || start < 0 || last >= frames) {
            throw new CompileError("sample_frames: " + count + " frames from " + start + " at stride " + stride
                    + " need " + (last + 1) + " frames along axis " + dim + ", which has " + frames);
        }
        List<Value> picked = new java.util.ArrayList<>();
        for (int i = 0; i < count; i++) {
            int f = start + i * stride;
            picked.add(c.graph().slice(x, dim, f, f + 1));
        }
        return tensor(count == 1 ? picked.getFirst() : c.graph().concat(picked, dim));
    }

    /**
     * rope(x, cos, sin, sections): rotary positions from per-token tables, x [B, H, N, d] and cos,
     * sin [B, N, d] (a packed batch's, where every token has its own example's position): as
     * rope_3d, with the tables an input rather than a grid's constants.
     */
    private static CompileValue rope(LoweringContext c, BoundArgs a) {
        Value x = a.tensor("x");
        Value cos = a.tensor("cos");
        Value sin = a.tensor("sin");
        int[] sections = a.ints("sections");
        int d = x.size(-1);
        if (x.rank() != 4
                || cos.rank() != 3
                || !java.util.Arrays.equals(cos.shape(), sin.shape())
                || cos.size(0) != x.size(0)
                || cos.size(1) != x.size(2)
                || cos.size(2) != d) {
            throw new CompileError("rope: x must be [B, H, N, d] and cos, sin [B, N, d]; got x "
                    + java.util.Arrays.toString(x.shape()) + ", cos " + java.util.Arrays.toString(cos.shape())
                    + ", sin " + java.util.Arrays.toString(sin.shape()));
        }
        if (java.util.Arrays.stream(sections).sum() != d
                || java.util.Arrays.stream(sections).anyMatch(v -> v < 0 || v % 2 != 0)) {
            throw new CompileError("rope: sections must be even and sum to the head width " + d + ", got "
                    + java.util.Arrays.toString(sections));
        }
        return tensor(PositionTables.rotate(
                c.graph(), x, c.graph().unsqueeze(cos, 1), c.graph().unsqueeze(sin, 1), sections));
    }
}
