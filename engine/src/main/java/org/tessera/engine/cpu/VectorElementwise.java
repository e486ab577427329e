package org.tessera.engine.cpu;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;
import org.tessera.engine.backend.ElementwiseOps;
import org.tessera.engine.backend.OpChecks;
import org.tessera.engine.parallel.WorkerPool;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Tensor;

/**
 * SIMD pointwise ops with NumPy broadcasting over arbitrary input views, allocating nothing per
 * call: these run hundreds of times per sampler step.
 *
 * <p>Arguments are first checked by an allocation-free predicate; only when it fails do the
 * {@link OpChecks} run, to throw their message. A {@link BroadcastLoop} (one per calling thread)
 * then walks the output: the whole of it as one flat run when every input is contiguous or a
 * single value, else row by row of the last dimension with a broadcast row (bias [D], adaLN
 * [B, 1, D]) read contiguously. Runs whose inputs have inner stride 1 or 0 go on vectors; any
 * other stride (a transposed view) gathers element by element. Every element is computed by its
 * own formula from inputs read before it is stored, so {@code out} may alias an input of the
 * same shape.
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
    private static final int GELU = 5;
    private static final int SILU = 6;
    private static final int MODULATE = 7;
    private static final int CLAMP = 8;

    /** The loop of the calling thread, rebound on every call. */
    private static final ThreadLocal<Job> JOBS = ThreadLocal.withInitial(Job::new);

    private final WorkerPool pool;

    VectorElementwise(WorkerPool pool) {
        this.pool = pool;
    }

    @Override
    public void add(Tensor a, Tensor b, Tensor out) {
        if (!validBinary(a, b, out)) {
            OpChecks.broadcastBinary("add", a, b, out);
        }
        run(ADD, 1f, 1f, out, a, b, null);
    }

    @Override
    public void sub(Tensor a, Tensor b, Tensor out) {
        if (!validBinary(a, b, out)) {
            OpChecks.broadcastBinary("sub", a, b, out);
        }
        run(SUB, 1f, 1f, out, a, b, null);
    }

    @Override
    public void mul(Tensor a, Tensor b, Tensor out) {
        if (!validBinary(a, b, out)) {
            OpChecks.broadcastBinary("mul", a, b, out);
        }
        run(MUL, 1f, 1f, out, a, b, null);
    }

    @Override
    public void div(Tensor a, Tensor b, Tensor out) {
        if (!validBinary(a, b, out)) {
            OpChecks.broadcastBinary("div", a, b, out);
        }
        run(DIV, 1f, 1f, out, a, b, null);
    }

    @Override
    public void axpby(float alpha, Tensor x, float beta, Tensor y, Tensor out) {
        if (!(validPointwise(x, out) && y.dtype() == DType.F32 && y.sameShape(x))) {
            OpChecks.pointwise("axpby", x, out);
            OpChecks.f32("axpby", "y", y);
            OpChecks.sameShape("axpby", x, y);
        }
        run(AXPBY, alpha, beta, out, x, y, null);
    }

    @Override
    public void clamp(Tensor x, float lo, float hi, Tensor out) {
        if (!validPointwise(x, out)) {
            OpChecks.pointwise("clamp", x, out);
        }
        if (!(lo <= hi)) {
            throw new IllegalArgumentException("clamp: min " + lo + " must not exceed max " + hi);
        }
        run(CLAMP, lo, hi, out, x, null, null);
    }

    @Override
    public void gelu(Tensor x, Tensor out) {
        if (!validPointwise(x, out)) {
            OpChecks.pointwise("gelu", x, out);
        }
        run(GELU, 1f, 1f, out, x, null, null);
    }

    @Override
    public void silu(Tensor x, Tensor out) {
        if (!validPointwise(x, out)) {
            OpChecks.pointwise("silu", x, out);
        }
        run(SILU, 1f, 1f, out, x, null, null);
    }

    /**
     * out = x·(1 + scale) + shift as one fused multiply-add per element. DiT's case, x [B, T, D]
     * with shift and scale [B, 1, D], runs row by row with all three rows contiguous.
     */
    @Override
    public void modulate(Tensor x, Tensor shift, Tensor scale, Tensor out) {
        if (!(validPointwise(x, out)
                && BroadcastLoop.broadcastsTo(shift, out)
                && BroadcastLoop.broadcastsTo(scale, out))) {
            OpChecks.pointwise("modulate", x, out);
            int[] shape = x.shape();
            OpChecks.broadcastsTo("modulate", "shift", shift, shape);
            OpChecks.broadcastsTo("modulate", "scale", scale, shape);
        }
        run(MODULATE, 1f, 1f, out, x, shift, scale);
    }

    private void run(int op, float alpha, float beta, Tensor out, Tensor a, Tensor b, Tensor c) {
        Job job = JOBS.get();
        job.op = op;
        job.alpha = alpha;
        job.beta = beta;
        job.o = out.storage();
        job.as = a.storage();
        job.bs = b == null ? null : b.storage();
        job.cs = c == null ? null : c.storage();
        job.bind(out, a, b, c);
        try {
            job.runOn(pool);
        } finally {
            job.o = job.as = job.bs = job.cs = null;
        }
    }

    /** add/sub/mul/div arguments, checked without allocating: f32, out contiguous with the broadcast shape. */
    private static boolean validBinary(Tensor a, Tensor b, Tensor out) {
        return a.dtype() == DType.F32
                && b.dtype() == DType.F32
                && out.dtype() == DType.F32
                && out.isContiguous()
                && BroadcastLoop.isBroadcastOf(out, a, b);
    }

    /** A unary op's arguments, checked without allocating: f32, one shape, out contiguous. */
    private static boolean validPointwise(Tensor x, Tensor out) {
        return x.dtype() == DType.F32 && out.dtype() == DType.F32 && x.sameShape(out) && out.isContiguous();
    }

    /** The op of one call, and its segments; the loop supplies the offsets. */
    private static final class Job extends BroadcastLoop {
        int op;
        float alpha;
        float beta;
        MemorySegment o;
        MemorySegment as;
        MemorySegment bs;
        MemorySegment cs;

        @Override
        void piece(long oo, long ao, long bo, long co, int n) {
            switch (op) {
                case GELU -> geluRow(o, oo, as, ao, sa, n);
                case SILU -> siluRow(o, oo, as, ao, sa, n);
                case MODULATE -> modulateRow(o, oo, as, ao, sa, bs, bo, sb, cs, co, sc, n);
                case CLAMP -> clampRow(o, oo, as, ao, sa, n, alpha, beta);
                default -> binaryRow(op, alpha, beta, o, oo, as, ao, sa, bs, bo, sb, n);
            }
        }
    }

    // ---------------------------------------------------------------- rows (offsets in elements)

    private static void binaryRow(
            int op,
            float alpha,
            float beta,
            MemorySegment o,
            long oo,
            MemorySegment a,
            long ao,
            long sa,
            MemorySegment b,
            long bo,
            long sb,
            int n) {
        // The op is switched on inside each loop rather than in a helper taking vectors: a
        // FloatVector passed to a method C2 does not inline is boxed, and whether it inlines one
        // depends on what else was compiled first (axpby once allocated 5.5 MB per call that way).
        int j = 0;
        int bound = S.loopBound(n);
        if (sa == 1 && sb == 1) {
            for (; j < bound; j += L) {
                FloatVector va = FloatVector.fromMemorySegment(S, a, 4 * (ao + j), NATIVE);
                FloatVector vb = FloatVector.fromMemorySegment(S, b, 4 * (bo + j), NATIVE);
                FloatVector r = switch (op) {
                    case ADD -> va.add(vb);
                    case SUB -> va.sub(vb);
                    case MUL -> va.mul(vb);
                    case DIV -> va.div(vb);
                    default -> va.mul(alpha).add(vb.mul(beta));
                };
                r.intoMemorySegment(o, 4 * (oo + j), NATIVE);
            }
        } else if (sa == 1 && sb == 0) {
            FloatVector vb = FloatVector.broadcast(S, b.getAtIndex(F, bo));
            for (; j < bound; j += L) {
                FloatVector va = FloatVector.fromMemorySegment(S, a, 4 * (ao + j), NATIVE);
                FloatVector r = switch (op) {
                    case ADD -> va.add(vb);
                    case SUB -> va.sub(vb);
                    case MUL -> va.mul(vb);
                    case DIV -> va.div(vb);
                    default -> va.mul(alpha).add(vb.mul(beta));
                };
                r.intoMemorySegment(o, 4 * (oo + j), NATIVE);
            }
        } else if (sa == 0 && sb == 1) {
            FloatVector va = FloatVector.broadcast(S, a.getAtIndex(F, ao));
            for (; j < bound; j += L) {
                FloatVector vb = FloatVector.fromMemorySegment(S, b, 4 * (bo + j), NATIVE);
                FloatVector r = switch (op) {
                    case ADD -> va.add(vb);
                    case SUB -> va.sub(vb);
                    case MUL -> va.mul(vb);
                    case DIV -> va.div(vb);
                    default -> va.mul(alpha).add(vb.mul(beta));
                };
                r.intoMemorySegment(o, 4 * (oo + j), NATIVE);
            }
        }
        // The tail, and rows with a gathered (non-unit) stride, element by element.
        for (; j < n; j++) {
            o.setAtIndex(F, oo + j, apply(op, alpha, beta, a.getAtIndex(F, ao + j * sa), b.getAtIndex(F, bo + j * sb)));
        }
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

    /** min(max(x, lo), hi) per element; max and min keep a NaN, as Math.max and Math.min do. */
    private static void clampRow(
            MemorySegment o, long oo, MemorySegment x, long xo, long sx, int n, float lo, float hi) {
        int j = 0;
        if (sx == 1) {
            int bound = S.loopBound(n);
            for (; j < bound; j += L) {
                FloatVector.fromMemorySegment(S, x, 4 * (xo + j), NATIVE)
                        .max(lo)
                        .min(hi)
                        .intoMemorySegment(o, 4 * (oo + j), NATIVE);
            }
        }
        for (; j < n; j++) {
            o.setAtIndex(F, oo + j, Math.min(Math.max(x.getAtIndex(F, xo + j * sx), lo), hi));
        }
    }

    // GELU and SiLU rows run in VectorMath.gatedRow, where no vector crosses a method call (a
    // FloatVector passed through a call C2 does not inline is boxed).

    private static void geluRow(MemorySegment o, long oo, MemorySegment x, long xo, long sx, int n) {
        int j = 0;
        if (sx == 1) {
            j = VectorMath.gatedRow(org.tessera.engine.backend.Activation.GELU_TANH, x, 4 * xo, null, 0, o, 4 * oo, n);
        }
        for (; j < n; j++) {
            o.setAtIndex(F, oo + j, VectorMath.gelu(x.getAtIndex(F, xo + j * sx)));
        }
    }

    private static void siluRow(MemorySegment o, long oo, MemorySegment x, long xo, long sx, int n) {
        int j = 0;
        if (sx == 1) {
            j = VectorMath.gatedRow(org.tessera.engine.backend.Activation.SILU, x, 4 * xo, null, 0, o, 4 * oo, n);
        }
        for (; j < n; j++) {
            o.setAtIndex(F, oo + j, VectorMath.silu(x.getAtIndex(F, xo + j * sx)));
        }
    }

    /** out = x·(1 + scale) + shift; shift and scale rows may each be contiguous (1) or one value (0). */
    private static void modulateRow(
            MemorySegment o,
            long oo,
            MemorySegment x,
            long xo,
            long sx,
            MemorySegment sh,
            long sho,
            long ssh,
            MemorySegment sc,
            long sco,
            long ssc,
            int n) {
        int j = 0;
        if (sx == 1 && (ssh == 0 || ssh == 1) && (ssc == 0 || ssc == 1)) {
            int bound = S.loopBound(n);
            if (ssh == 1 && ssc == 1) {
                for (; j < bound; j += L) {
                    FloatVector scale = FloatVector.fromMemorySegment(S, sc, 4 * (sco + j), NATIVE)
                            .add(1f);
                    FloatVector shift = FloatVector.fromMemorySegment(S, sh, 4 * (sho + j), NATIVE);
                    FloatVector.fromMemorySegment(S, x, 4 * (xo + j), NATIVE)
                            .fma(scale, shift)
                            .intoMemorySegment(o, 4 * (oo + j), NATIVE);
                }
            } else if (ssh == 0 && ssc == 0) {
                FloatVector scale = FloatVector.broadcast(S, 1f + sc.getAtIndex(F, sco));
                FloatVector shift = FloatVector.broadcast(S, sh.getAtIndex(F, sho));
                for (; j < bound; j += L) {
                    FloatVector.fromMemorySegment(S, x, 4 * (xo + j), NATIVE)
                            .fma(scale, shift)
                            .intoMemorySegment(o, 4 * (oo + j), NATIVE);
                }
            } else {
                // One of the two is a row, the other one value per row (mixed broadcasts).
                FloatVector scale1 = FloatVector.broadcast(S, 1f + sc.getAtIndex(F, sco));
                FloatVector shift0 = FloatVector.broadcast(S, sh.getAtIndex(F, sho));
                for (; j < bound; j += L) {
                    FloatVector scale = ssc == 1
                            ? FloatVector.fromMemorySegment(S, sc, 4 * (sco + j), NATIVE)
                                    .add(1f)
                            : scale1;
                    FloatVector shift = ssh == 1 ? FloatVector.fromMemorySegment(S, sh, 4 * (sho + j), NATIVE) : shift0;
                    FloatVector.fromMemorySegment(S, x, 4 * (xo + j), NATIVE)
                            .fma(scale, shift)
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
