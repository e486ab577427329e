package org.tessera.engine.cpu;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;
import org.tessera.engine.backend.ElementwiseOps;
import org.tessera.engine.backend.OpChecks;
import org.tessera.engine.parallel.WorkerPool;
import org.tessera.engine.tensor.Tensor;

/**
 * SIMD pointwise ops with NumPy broadcasting over arbitrary input views.
 *
 * <p>Each op broadcasts its inputs to the output shape as stride-0 views, collapses the loop
 * with {@link BroadcastLoop} and runs the rows on the pool. A row whose inputs are each
 * contiguous (inner stride 1) or a broadcast scalar (inner stride 0) runs on vectors; any other
 * stride (a transposed view) gathers element by element. Every element is computed by its own
 * formula, so {@code out} may alias an input of the same shape.
 */
final class VectorElementwise implements ElementwiseOps {
    private static final VectorSpecies<Float> S = VectorMath.S;
    private static final int L = VectorMath.L;
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;

    private static final int ADD = 0;
    private static final int SUB = 1;
    private static final int MUL = 2;
    private static final int DIV = 3;
    private static final int AXPBY = 4;
    private static final int GELU = 0;
    private static final int SILU = 1;

    private final WorkerPool pool;

    VectorElementwise(WorkerPool pool) {
        this.pool = pool;
    }

    @Override
    public void add(Tensor a, Tensor b, Tensor out) {
        OpChecks.broadcastBinary("add", a, b, out);
        binary(ADD, 1f, 1f, a, b, out);
    }

    @Override
    public void sub(Tensor a, Tensor b, Tensor out) {
        OpChecks.broadcastBinary("sub", a, b, out);
        binary(SUB, 1f, 1f, a, b, out);
    }

    @Override
    public void mul(Tensor a, Tensor b, Tensor out) {
        OpChecks.broadcastBinary("mul", a, b, out);
        binary(MUL, 1f, 1f, a, b, out);
    }

    @Override
    public void div(Tensor a, Tensor b, Tensor out) {
        OpChecks.broadcastBinary("div", a, b, out);
        binary(DIV, 1f, 1f, a, b, out);
    }

    @Override
    public void axpby(float alpha, Tensor x, float beta, Tensor y, Tensor out) {
        OpChecks.pointwise("axpby", x, out);
        OpChecks.f32("axpby", "y", y);
        OpChecks.sameShape("axpby", x, y);
        binary(AXPBY, alpha, beta, x, y, out);
    }

    @Override
    public void gelu(Tensor x, Tensor out) {
        OpChecks.pointwise("gelu", x, out);
        unary(GELU, x, out);
    }

    @Override
    public void silu(Tensor x, Tensor out) {
        OpChecks.pointwise("silu", x, out);
        unary(SILU, x, out);
    }

    /**
     * out = x·(1 + scale) + shift as one fused multiply-add per element. DiT's case, x [B, T, D]
     * with shift and scale [B, 1, D], collapses to rows of D where all three are contiguous.
     */
    @Override
    public void modulate(Tensor x, Tensor shift, Tensor scale, Tensor out) {
        OpChecks.pointwise("modulate", x, out);
        int[] shape = x.shape();
        OpChecks.broadcastsTo("modulate", "shift", shift, shape);
        OpChecks.broadcastsTo("modulate", "scale", scale, shape);
        BroadcastLoop loop = new BroadcastLoop(out, x, shift.expand(shape), scale.expand(shape));
        MemorySegment o = out.storage();
        MemorySegment xs = x.storage();
        MemorySegment sh = shift.storage();
        MemorySegment sc = scale.storage();
        ParallelLoops.elements(pool, loop.total, (from, to) -> loop.forEach(from, to,
                (oo, xo, sho, sco, n) -> modulateRow(o, oo, xs, xo, loop.sa, sh, sho, loop.sb, sc, sco, loop.sc, n)));
    }

    private void binary(int op, float alpha, float beta, Tensor a, Tensor b, Tensor out) {
        int[] shape = out.shape();
        BroadcastLoop loop = new BroadcastLoop(out, a.expand(shape), b.expand(shape));
        MemorySegment o = out.storage();
        MemorySegment as = a.storage();
        MemorySegment bs = b.storage();
        ParallelLoops.elements(pool, loop.total, (from, to) -> loop.forEach(from, to,
                (oo, ao, bo, unused, n) -> binaryRow(op, alpha, beta, o, oo, as, ao, loop.sa, bs, bo, loop.sb, n)));
    }

    private void unary(int op, Tensor x, Tensor out) {
        BroadcastLoop loop = new BroadcastLoop(out, x);
        MemorySegment o = out.storage();
        MemorySegment xs = x.storage();
        ParallelLoops.elements(pool, loop.total, (from, to) -> loop.forEach(from, to,
                (oo, xo, unused1, unused2, n) -> unaryRow(op, o, oo, xs, xo, loop.sa, n)));
    }

    // ---------------------------------------------------------------- rows (offsets in elements)

    private static void binaryRow(int op, float alpha, float beta, MemorySegment o, long oo,
                                  MemorySegment a, long ao, long sa, MemorySegment b, long bo, long sb, int n) {
        int j = 0;
        int bound = S.loopBound(n);
        if (sa == 1 && sb == 1) {
            for (; j < bound; j += L) {
                FloatVector va = FloatVector.fromMemorySegment(S, a, 4 * (ao + j), NATIVE);
                FloatVector vb = FloatVector.fromMemorySegment(S, b, 4 * (bo + j), NATIVE);
                apply(op, alpha, beta, va, vb).intoMemorySegment(o, 4 * (oo + j), NATIVE);
            }
        } else if (sa == 1 && sb == 0) {
            FloatVector vb = FloatVector.broadcast(S, b.getAtIndex(F, bo));
            for (; j < bound; j += L) {
                FloatVector va = FloatVector.fromMemorySegment(S, a, 4 * (ao + j), NATIVE);
                apply(op, alpha, beta, va, vb).intoMemorySegment(o, 4 * (oo + j), NATIVE);
            }
        } else if (sa == 0 && sb == 1) {
            FloatVector va = FloatVector.broadcast(S, a.getAtIndex(F, ao));
            for (; j < bound; j += L) {
                FloatVector vb = FloatVector.fromMemorySegment(S, b, 4 * (bo + j), NATIVE);
                apply(op, alpha, beta, va, vb).intoMemorySegment(o, 4 * (oo + j), NATIVE);
            }
        }
        // The tail, and rows with a gathered (non-unit) stride, element by element.
        for (; j < n; j++) {
            o.setAtIndex(F, oo + j, apply(op, alpha, beta, a.getAtIndex(F, ao + j * sa), b.getAtIndex(F, bo + j * sb)));
        }
    }

    private static FloatVector apply(int op, float alpha, float beta, FloatVector a, FloatVector b) {
        return switch (op) {
            case ADD -> a.add(b);
            case SUB -> a.sub(b);
            case MUL -> a.mul(b);
            case DIV -> a.div(b);
            default -> a.mul(alpha).add(b.mul(beta));
        };
    }

    private static float apply(int op, float alpha, float beta, float a, float b) {
        return switch (op) {
            case ADD -> a + b;
            case SUB -> a - b;
            case MUL -> a * b;
            case DIV -> a / b;
            default -> a * alpha + b * beta;
        };
    }

    private static void unaryRow(int op, MemorySegment o, long oo, MemorySegment x, long xo, long sx, int n) {
        int j = 0;
        if (sx == 1) {
            for (int bound = S.loopBound(n); j < bound; j += L) {
                FloatVector v = FloatVector.fromMemorySegment(S, x, 4 * (xo + j), NATIVE);
                v = op == GELU ? VectorMath.gelu(v) : VectorMath.silu(v);
                v.intoMemorySegment(o, 4 * (oo + j), NATIVE);
            }
        }
        for (; j < n; j++) {
            float v = x.getAtIndex(F, xo + j * sx);
            o.setAtIndex(F, oo + j, op == GELU ? VectorMath.gelu(v) : VectorMath.silu(v));
        }
    }

    private static void modulateRow(MemorySegment o, long oo, MemorySegment x, long xo, long sx,
                                    MemorySegment sh, long sho, long ssh, MemorySegment sc, long sco, long ssc, int n) {
        int j = 0;
        if (sx == 1) {
            int bound = S.loopBound(n);
            if (ssh == 1 && ssc == 1) {
                for (; j < bound; j += L) {
                    FloatVector scale = FloatVector.fromMemorySegment(S, sc, 4 * (sco + j), NATIVE).add(1f);
                    FloatVector shift = FloatVector.fromMemorySegment(S, sh, 4 * (sho + j), NATIVE);
                    FloatVector.fromMemorySegment(S, x, 4 * (xo + j), NATIVE).fma(scale, shift)
                            .intoMemorySegment(o, 4 * (oo + j), NATIVE);
                }
            } else if (ssh == 0 && ssc == 0) {
                FloatVector scale = FloatVector.broadcast(S, 1f + sc.getAtIndex(F, sco));
                FloatVector shift = FloatVector.broadcast(S, sh.getAtIndex(F, sho));
                for (; j < bound; j += L) {
                    FloatVector.fromMemorySegment(S, x, 4 * (xo + j), NATIVE).fma(scale, shift)
                            .intoMemorySegment(o, 4 * (oo + j), NATIVE);
                }
            }
        }
        for (; j < n; j++) {
            float scale = 1f + sc.getAtIndex(F, sco + j * ssc);
            o.setAtIndex(F, oo + j, Math.fma(x.getAtIndex(F, xo + j * sx), scale, sh.getAtIndex(F, sho + j * ssh)));
        }
    }
}
