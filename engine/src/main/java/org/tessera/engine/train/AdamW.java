package org.tessera.engine.train;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.LinkedHashMap;
import java.util.Map;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Tensor;

/**
 * AdamW (Loshchilov and Hutter): Adam's moment estimates with the weight decay decoupled from
 * them. For each parameter p with gradient g, at step t (from 1):
 *
 * <pre>
 *   m ← β₁·m + (1 − β₁)·g          v ← β₂·v + (1 − β₂)·g²
 *   m̂ = m / (1 − β₁ᵗ)              v̂ = v / (1 − β₂ᵗ)
 *   p ← p − lr·(m̂ / (√v̂ + ε) + λ·p)
 * </pre>
 *
 * as PyTorch's {@code torch.optim.AdamW} computes it (decay applied with the step's lr). The
 * moments are f32 tensors made on the first step and reused, so a step allocates nothing.
 * Parameters are updated in place; they and their gradients must be row-major f32 on the host.
 */
public final class AdamW {
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;

    private final double beta1;
    private final double beta2;
    private final double eps;
    private final double weightDecay;
    private final Map<String, Tensor[]> moments = new LinkedHashMap<>();

    /**
     * @param beta1 β₁ (PyTorch: 0.9)
     * @param beta2 β₂ (0.999)
     * @param eps ε (1e-8)
     * @param weightDecay λ; DiT trains with 0
     */
    public AdamW(double beta1, double beta2, double eps, double weightDecay) {
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
        this.weightDecay = weightDecay;
    }

    /** PyTorch's defaults with weight decay λ. */
    public static AdamW withWeightDecay(double weightDecay) {
        return new AdamW(0.9, 0.999, 1e-8, weightDecay);
    }

    /** The moments by parameter name, for a checkpoint: {m, v} each (live). */
    public Map<String, Tensor[]> moments() {
        return moments;
    }

    /** The first and second moment of {@code name}, made (zero) on first use. */
    public Tensor[] moments(String name, Tensor like) {
        Tensor[] mv = moments.get(name); // not computeIfAbsent: its lambda would allocate every step
        if (mv == null) {
            mv = new Tensor[] {Tensor.zeros(DType.F32, like.shape()), Tensor.zeros(DType.F32, like.shape())};
            moments.put(name, mv);
        }
        return mv;
    }

    /**
     * Step {@code t} (from 1) at learning rate {@code lr}: every parameter of {@code params} moves
     * against its gradient in {@code grads} (same names).
     */
    public void step(Map<String, Tensor> params, Map<String, Tensor> grads, long t, double lr) {
        double c1 = 1 - Math.pow(beta1, t);
        double c2 = 1 - Math.pow(beta2, t);
        for (Map.Entry<String, Tensor> e : params.entrySet()) {
            Tensor p = e.getValue();
            Tensor g = grads.get(e.getKey());
            if (g == null) {
                throw new IllegalArgumentException("no gradient for parameter '" + e.getKey() + "'");
            }
            Tensor[] mv = moments(e.getKey(), p);
            update(p, g, mv[0], mv[1], c1, c2, lr);
        }
    }

    private void update(Tensor p, Tensor g, Tensor m, Tensor v, double c1, double c2, double lr) {
        MemorySegment ps = p.storage();
        MemorySegment gs = g.storage();
        MemorySegment ms = m.storage();
        MemorySegment vs = v.storage();
        long pb = p.byteOffset();
        long gb = g.byteOffset();
        long mb = m.byteOffset();
        long vb = v.byteOffset();
        for (long i = 0, n = p.numel(); i < n; i++) {
            double gi = gs.get(F, gb + 4 * i);
            double mi = beta1 * ms.get(F, mb + 4 * i) + (1 - beta1) * gi;
            double vi = beta2 * vs.get(F, vb + 4 * i) + (1 - beta2) * gi * gi;
            ms.set(F, mb + 4 * i, (float) mi);
            vs.set(F, vb + 4 * i, (float) vi);
            double pi = ps.get(F, pb + 4 * i);
            double update = (mi / c1) / (Math.sqrt(vi / c2) + eps) + weightDecay * pi;
            ps.set(F, pb + 4 * i, (float) (pi - lr * update));
        }
    }
}
