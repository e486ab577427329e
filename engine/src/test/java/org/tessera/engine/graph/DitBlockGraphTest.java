package org.tessera.engine.graph;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.tessera.engine.graph.GraphTesting.BACKEND;
import static org.tessera.engine.graph.GraphTesting.assertClose;
import static org.tessera.engine.graph.GraphTesting.inputs;
import static org.tessera.engine.graph.GraphTesting.randn;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.tessera.engine.backend.Activation;
import org.tessera.engine.backend.AttentionMask;
import org.tessera.engine.backend.Backend;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Tensor;

/**
 * A tiny DiT block (hidden 64, 4 heads, 16 tokens, batch 2, adaLN-Zero conditioning) built by
 * hand with GraphBuilder, against the same computation done with direct backend calls.
 */
class DitBlockGraphTest {
    private static final int B = 2;
    private static final int T = 16;
    private static final int D = 64;
    private static final int H = 4;
    private static final int DH = D / H;
    private static final float EPS = 1e-6f;

    private final Tensor adaW = randn(10, 6 * D, D).reshape(-1);
    private final Tensor adaB = randn(11, 6 * D);
    private final Tensor qkvW = randn(12, 3 * D, D);
    private final Tensor qkvB = randn(13, 3 * D);
    private final Tensor projW = randn(14, D, D);
    private final Tensor projB = randn(15, D);
    private final Tensor fc1W = randn(16, 4 * D, D);
    private final Tensor fc1B = randn(17, 4 * D);
    private final Tensor fc2W = randn(18, D, 4 * D);
    private final Tensor fc2B = randn(19, D);

    private static Tensor scaled(Tensor t, float s) {
        float[] v = t.toFloatArray();
        for (int i = 0; i < v.length; i++) {
            v[i] *= s;
        }
        return Tensor.of(v, t.shape());
    }

    private Graph build() {
        GraphBuilder b = new GraphBuilder();
        b.at("dit.tess:1:1");
        Value x = b.input("x", DType.F32, B, T, D);
        Value c = b.input("c", DType.F32, B, D);
        float ws = (float) (1 / Math.sqrt(D));
        b.at("dit.tess:5:3");
        // The weight is given flattened, to exercise folding a reshape of a constant.
        Value adaWeight = b.reshape(b.constant("ada.w", scaled(adaW, ws)), 6 * D, D);
        Value mod = b.linear(b.silu(c), adaWeight, b.constant("ada.b", adaB), Activation.NONE);
        List<Value> m = b.chunk(b.unsqueeze(mod, 1), 6, -1); // 6 × [B, 1, D]
        b.at("dit.tess:9:3");
        Value h = b.modulate(b.layerNorm(x, null, null, EPS), m.get(0), m.get(1));
        Value qkv = b.linear(h, b.constant("qkv.w", scaled(qkvW, ws)), b.constant("qkv.b", qkvB), Activation.NONE);
        Value heads = b.permute(b.reshape(qkv, B, T, 3, H, DH), 2, 0, 3, 1, 4); // [3, B, H, T, dh]
        List<Value> qkvs = b.chunk(heads, 3, 0);
        Value q = b.reshape(qkvs.get(0), B, H, T, DH);
        Value k = b.reshape(qkvs.get(1), B, H, T, DH);
        Value v = b.reshape(qkvs.get(2), B, H, T, DH);
        Value att = b.attention(q, k, v, (float) (1 / Math.sqrt(DH)));
        Value merged = b.reshape(b.permute(att, 0, 2, 1, 3), B, T, D);
        Value proj =
                b.linear(merged, b.constant("proj.w", scaled(projW, ws)), b.constant("proj.b", projB), Activation.NONE);
        Value x1 = b.add(x, b.mul(m.get(2), proj));
        b.at("dit.tess:20:3");
        Value h2 = b.modulate(b.layerNorm(x1, null, null, EPS), m.get(3), m.get(4));
        Value f =
                b.gelu(b.linear(h2, b.constant("fc1.w", scaled(fc1W, ws)), b.constant("fc1.b", fc1B), Activation.NONE));
        f = b.linear(
                f,
                b.constant("fc2.w", scaled(fc2W, (float) (1 / Math.sqrt(4 * D)))),
                b.constant("fc2.b", fc2B),
                Activation.NONE);
        b.output("y", b.add(x1, b.mul(m.get(5), f)));
        return b.build();
    }

    /** The same block, one backend call at a time. */
    private Tensor direct(Backend be, Tensor x, Tensor c) {
        float ws = (float) (1 / Math.sqrt(D));
        Tensor sc = Tensor.zeros(DType.F32, B, D);
        be.elementwise().silu(c, sc);
        Tensor mod = Tensor.zeros(DType.F32, B, 6 * D);
        be.gemm().linear(sc, scaled(adaW, ws).reshape(6 * D, D), adaB, Activation.NONE, mod);
        Tensor[] m = mod.unsqueeze(1).chunk(6, -1);
        Tensor h = Tensor.zeros(DType.F32, B, T, D);
        be.norms().layerNorm(x, null, null, EPS, h);
        be.elementwise().modulate(h, m[0], m[1], h);
        Tensor qkv = Tensor.zeros(DType.F32, B, T, 3 * D);
        be.gemm().linear(h, scaled(qkvW, ws), qkvB, Activation.NONE, qkv);
        Tensor heads = qkv.reshape(B, T, 3, H, DH).permute(2, 0, 3, 1, 4);
        Tensor att = Tensor.zeros(DType.F32, B, H, T, DH);
        be.attention()
                .attention(heads.select(0, 0), heads.select(0, 1), heads.select(0, 2), att, AttentionMask.NONE, (float)
                        (1 / Math.sqrt(DH)));
        Tensor merged = att.permute(0, 2, 1, 3).contiguous().reshape(B, T, D);
        Tensor proj = Tensor.zeros(DType.F32, B, T, D);
        be.gemm().linear(merged, scaled(projW, ws), projB, Activation.NONE, proj);
        Tensor x1 = Tensor.zeros(DType.F32, B, T, D);
        be.elementwise().mul(m[2], proj, proj);
        be.elementwise().add(x, proj, x1);
        Tensor h2 = Tensor.zeros(DType.F32, B, T, D);
        be.norms().layerNorm(x1, null, null, EPS, h2);
        be.elementwise().modulate(h2, m[3], m[4], h2);
        Tensor f1 = Tensor.zeros(DType.F32, B, T, 4 * D);
        be.gemm().linear(h2, scaled(fc1W, ws), fc1B, Activation.NONE, f1);
        be.elementwise().gelu(f1, f1);
        Tensor f2 = Tensor.zeros(DType.F32, B, T, D);
        be.gemm().linear(f1, scaled(fc2W, (float) (1 / Math.sqrt(4 * D))), fc2B, Activation.NONE, f2);
        be.elementwise().mul(m[5], f2, f2);
        Tensor y = Tensor.zeros(DType.F32, B, T, D);
        be.elementwise().add(x1, f2, y);
        return y;
    }

    @Test
    void graphMatchesDirectBackendCalls() {
        Tensor x = randn(1, B, T, D);
        Tensor c = randn(2, B, D);
        CompiledGraph cg = Planner.compile(build(), BACKEND);
        String log = String.join("\n", cg.passLog());
        assertTrue(log.contains("fusion: 1 linear+gelu, 2 layernorm+modulate"), log);
        assertTrue(log.contains("weights: packed 5 linear weights"), log);
        assertTrue(cg.bufferBytes() > 0 && cg.bufferBytes() < cg.plan().unsharedBytes(), log);
        Tensor expected = direct(BACKEND, x, c);
        try (Execution ex = cg.newExecution()) {
            Map<String, Tensor> out = ex.run(inputs("x", x, "c", c));
            assertClose(expected, out.get("y"), 1e-4, 1e-4, "DiT block");
            // A second run over the same buffers gives the same answer.
            assertClose(expected, ex.run(inputs("x", x, "c", c)).get("y"), 1e-4, 1e-4, "DiT block, run 2");
        }
        Tensor unoptimised = GraphTesting.run(build(), new Planner.Options(false, false, false), inputs("x", x, "c", c))
                .get("y");
        assertClose(expected, unoptimised, 1e-4, 1e-4, "DiT block without optimisations");
    }
}
