package org.tessera.engine.graph;

import java.lang.foreign.Arena;
import java.util.List;
import java.util.Map;
import org.tessera.engine.backend.Activation;
import org.tessera.engine.parallel.WorkerPool;
import org.tessera.engine.random.RandomStream;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Tensor;

/**
 * Small graphs with fixed random weights for self-tests that run one plan on two backends and
 * compare: the executor tests use them, and so does the GPU self-test ({@code tessera doctor
 * --gpu}), where they check the device path — uploads, copies, gathers, casts, CUDA-graph replay —
 * on a real GPU.
 */
public final class SampleGraphs {
    private SampleGraphs() {}

    private static Tensor random(long stream, int... shape) {
        Tensor t = Tensor.zeros(DType.F32, shape);
        try (WorkerPool pool = new WorkerPool(1)) {
            new RandomStream(5, stream).fillNormal(t, pool);
        }
        return t;
    }

    /**
     * A DiT-like block touching every step that differs on a device: patch embedding, a label
     * embedding (gather), a constant position table, a timestep embedding, linear layers with
     * epilogues, layerNorm + modulate, segment-masked attention on permuted (copied) heads, a
     * concat, an expand, a scalar and a cast.
     */
    public static Graph ditLike() {
        GraphBuilder g = new GraphBuilder();
        Value x = g.input("x", DType.F32, 2, 3, 8, 8);
        Value t = g.input("t", DType.F32, 2);
        Value y = g.input("y", DType.I64, 2);
        Value ids = g.input("ids", DType.I64, 2, 16);
        int d = 32;
        Value tokens = g.patchEmbed2d(x, g.constant("pw", random(1, d, 3, 2, 2)), g.constant("pb", random(2, d)));
        tokens = g.add(tokens, g.constant("pos", random(3, 16, d)));
        Value temb = g.linear(
                g.timestepEmbedding(t, 64, 10000),
                g.constant("tw", random(4, d, 64)),
                g.constant("tb", random(5, d)),
                Activation.SILU);
        Value c = g.add(temb, g.embedding(g.constant("table", random(6, 10, d)), y));
        Value mod =
                g.linear(c, g.constant("mw", random(7, 2 * d, d)), g.constant("mb", random(8, 2 * d)), Activation.NONE);
        Value shift = g.unsqueeze(g.slice(mod, 1, 0, d), 1);
        Value scale = g.unsqueeze(g.slice(mod, 1, d, 2 * d), 1);
        Value h = g.modulate(g.layerNorm(tokens, null, null, 1e-6f), shift, scale);
        Value qkv = g.linear(
                h, g.constant("qkv", random(9, 3 * d, d)), g.constant("qkvb", random(10, 3 * d)), Activation.NONE);
        Value heads = g.permute(g.reshape(qkv, 2, 16, 3, 4, 8), 2, 0, 3, 1, 4);
        Value q = g.contiguous(g.reshape(g.slice(heads, 0, 0, 1), 2, 4, 16, 8));
        Value k = g.contiguous(g.reshape(g.slice(heads, 0, 1, 2), 2, 4, 16, 8));
        Value v = g.contiguous(g.reshape(g.slice(heads, 0, 2, 3), 2, 4, 16, 8));
        Value att = g.attention(q, k, v, (float) (1 / Math.sqrt(8)), ids);
        Value merged = g.reshape(g.contiguous(g.permute(att, 0, 2, 1, 3)), 2, 16, d);
        Value both = g.concat(List.of(merged, g.expand(g.unsqueeze(c, 1), 2, 16, d)), 2);
        Value out =
                g.mulScalar(g.linear(both, g.constant("ow", random(11, d, 2 * d)), null, Activation.GELU_TANH), 0.5f);
        g.output("out", out);
        g.output("labels", g.cast(y, DType.F32));
        return g.build();
    }

    /** Inputs for {@link #ditLike()}: x, t, labels y and segment ids (two segments per row). */
    public static Map<String, Tensor> ditLikeInputs() {
        long[] idRows = new long[32];
        for (int i = 0; i < 32; i++) {
            idRows[i] = i % 16 < 9 ? 0 : 1;
        }
        return Map.of(
                "x",
                random(20, 2, 3, 8, 8),
                "t",
                Tensor.of(new float[] {3f, 700f}, 2),
                "y",
                Tensor.ofLongs(Arena.ofAuto(), new long[] {4, 9}, 2),
                "ids",
                Tensor.ofLongs(Arena.ofAuto(), idRows, 2, 16));
    }
}
