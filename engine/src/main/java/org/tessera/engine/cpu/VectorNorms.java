package org.tessera.engine.cpu;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import org.tessera.engine.backend.Activation;
import org.tessera.engine.backend.ElementwiseOps;
import org.tessera.engine.backend.NormOps;
import org.tessera.engine.backend.OpChecks;
import org.tessera.engine.parallel.WorkerPool;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Tensor;

/**
 * SIMD softmax, LayerNorm (plain, affine, and fused with adaLN modulation) and GroupNorm over
 * contiguous rows, parallel over rows (or groups). The per-step ops run as a {@link NormJob}
 * kept per calling thread, so they allocate nothing.
 *
 * <p>Statistics use two passes in float with vector accumulators (mean, then Σ(x − mean)²):
 * the second pass avoids the cancellation of E[x²] − E[x]², and lane-wise partial sums keep the
 * rounding error to about √(n/lanes) ulps. Every pass reads the input before writing the same
 * element of the output, so {@code out} may be {@code x}.
 */
final class VectorNorms implements NormOps {
    private static final VectorSpecies<Float> S = VectorMath.S;
    private static final int L = VectorMath.L;
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;

    private static final int SOFTMAX = 0;
    private static final int LAYER_NORM = 1;
    private static final int LAYER_NORM_AFFINE = 2;
    private static final int LAYER_NORM_MODULATE = 3;

    /** The row job of the calling thread, rebound on every call so that a call allocates nothing. */
    private static final ThreadLocal<NormJob> JOBS = ThreadLocal.withInitial(NormJob::new);

    private final WorkerPool pool;

    VectorNorms(WorkerPool pool) {
        this.pool = pool;
    }

    /** One row-wise normalisation call: its operands, run over row ranges. */
    private static final class NormJob extends ParallelLoops.RangeJob {
        private int kind;
        private int d;
        private MemorySegment xs;
        private MemorySegment os;
        private long xBase;
        private long oBase;
        private Tensor x;
        float eps;
        MemorySegment ws;
        long wo;
        MemorySegment bs;
        long bo;
        Tensor shift;
        Tensor scale;
        long ssh;
        long ssc;

        void bind(int kind, Tensor x, Tensor out, int d) {
            this.kind = kind;
            this.d = d;
            this.x = x;
            xs = x.storage();
            os = out.storage();
            xBase = x.byteOffset();
            oBase = out.byteOffset();
        }

        void run(WorkerPool pool) {
            try {
                forRows(pool, x.numel() / d, d);
            } finally {
                x = shift = scale = null;
                xs = os = ws = bs = null;
            }
        }

        @Override
        void range(long from, long to) {
            // One loop per kind: each stays within the JIT's inlining budget (see VectorElementwise).
            switch (kind) {
                case SOFTMAX -> softmaxRows(from, to);
                case LAYER_NORM_MODULATE -> layerNormModulateRows(from, to);
                default -> layerNormRows(from, to);
            }
        }

        private void softmaxRows(long from, long to) {
            for (long r = from; r < to; r++) {
                softmaxRow(xs, xBase + 4 * r * d, os, oBase + 4 * r * d, d);
            }
        }

        private void layerNormRows(long from, long to) {
            for (long r = from; r < to; r++) {
                long xo = xBase + 4 * r * d;
                long oo = oBase + 4 * r * d;
                float mean = sum(xs, xo, d) / d;
                float rstd = (float) (1 / Math.sqrt(sumSquaredDeviations(xs, xo, d, mean) / d + eps));
                if (kind == LAYER_NORM) {
                    normalise(xs, xo, os, oo, d, mean, rstd, 0f);
                } else {
                    layerNormAffine(xs, xo, os, oo, d, mean, rstd, ws, wo, bs, bo);
                }
            }
        }

        private void layerNormModulateRows(long from, long to) {
            MemorySegment sh = shift.storage();
            MemorySegment sc = scale.storage();
            for (long r = from; r < to; r++) {
                long xo = xBase + 4 * r * d;
                float mean = sum(xs, xo, d) / d;
                float rstd = (float) (1 / Math.sqrt(sumSquaredDeviations(xs, xo, d, mean) / d + eps));
                layerNormModulateRow(
                        xs,
                        xo,
                        os,
                        oBase + 4 * r * d,
                        d,
                        mean,
                        rstd,
                        sh,
                        BroadcastLoop.rowOffset(shift, x, r),
                        ssh,
                        sc,
                        BroadcastLoop.rowOffset(scale, x, r),
                        ssc);
            }
        }
    }

    @Override
    public void softmax(Tensor x, Tensor out) {
        OpChecks.rowwise("softmax", x, out);
        int d = x.size(-1);
        if (d == 0) {
            return;
        }
        NormJob job = JOBS.get();
        job.bind(SOFTMAX, x, out, d);
        job.run(pool);
    }

    /** e^(x − max) into out with its sum, then out · (1/sum); the max keeps exp from overflowing. */
    private static void softmaxRow(MemorySegment x, long xo, MemorySegment o, long oo, int d) {
        int bound = S.loopBound(d);
        FloatVector vmax = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
        int j = 0;
        for (; j < bound; j += L) {
            vmax = vmax.max(FloatVector.fromMemorySegment(S, x, xo + 4L * j, NATIVE));
        }
        float max = vmax.reduceLanes(VectorOperators.MAX);
        for (; j < d; j++) {
            max = Math.max(max, x.get(F, xo + 4L * j));
        }
        float sum = expAndSum(x, xo, o, oo, bound, max);
        for (j = bound; j < d; j++) {
            float e = VectorExp.exp(x.get(F, xo + 4L * j) - max);
            o.set(F, oo + 4L * j, e);
            sum += e;
        }
        scale(o, oo, d, 1f / sum, 0f);
    }

    /**
     * out[j] = e^(x[j] − max) for the vector part of a row; returns its sum. A method of its own
     * so that C2 inlines the exp and the lane sum and keeps every vector in registers.
     */
    private static float expAndSum(MemorySegment x, long xo, MemorySegment o, long oo, int bound, float max) {
        FloatVector vsum = FloatVector.zero(S);
        for (int j = 0; j < bound; j += L) {
            // x ≤ max, so the shifted values are ≤ 0 (NaN when the row holds one).
            FloatVector e = VectorExp.expNonPositive(
                    FloatVector.fromMemorySegment(S, x, xo + 4L * j, NATIVE).sub(max));
            e.intoMemorySegment(o, oo + 4L * j, NATIVE);
            vsum = vsum.add(e);
        }
        // Lanes out through the heap, summed in a fixed order (see VectorMath.sumLanes): no vector
        // crosses a call boundary here, so none is boxed.
        float[] lanes = LANES.get();
        vsum.intoArray(lanes, 0);
        return VectorMath.sumLanes(lanes);
    }

    private static final ThreadLocal<float[]> LANES = ThreadLocal.withInitial(() -> new float[L]);

    @Override
    public void layerNorm(Tensor x, Tensor weight, Tensor bias, float eps, Tensor out) {
        OpChecks.rowwise("layerNorm", x, out);
        int d = x.size(-1);
        OpChecks.optionalVector("layerNorm", "weight", weight, d);
        OpChecks.optionalVector("layerNorm", "bias", bias, d);
        if (d == 0) {
            return;
        }
        NormJob job = JOBS.get();
        job.bind(weight == null && bias == null ? LAYER_NORM : LAYER_NORM_AFFINE, x, out, d);
        job.eps = eps;
        job.ws = weight == null ? null : weight.storage();
        job.wo = weight == null ? 0 : weight.byteOffset();
        job.bs = bias == null ? null : bias.storage();
        job.bo = bias == null ? 0 : bias.byteOffset();
        job.run(pool);
    }

    /**
     * One pass of statistics per row (vector sums: mean, then Σ(x − mean)² while the row is in
     * L1), then one pass that normalises, modulates and stores:
     * out = (x − mean)·a + shift with a = rstd·(1 + scale), one FMA each. The rows of shift and
     * scale are found from their own strides, so chunks of a fused adaLN projection work as is.
     */
    @Override
    public void layerNormModulate(Tensor x, Tensor shift, Tensor scale, float eps, Tensor out) {
        boolean valid = x.dtype() == DType.F32
                && out.dtype() == DType.F32
                && x.rank() >= 1
                && x.sameShape(out)
                && x.isContiguous()
                && out.isContiguous()
                && BroadcastLoop.broadcastsTo(shift, x)
                && BroadcastLoop.broadcastsTo(scale, x);
        if (!valid) {
            OpChecks.rowwise("layerNormModulate", x, out);
            int[] shape = x.shape();
            OpChecks.broadcastsTo("layerNormModulate", "shift", shift, shape);
            OpChecks.broadcastsTo("layerNormModulate", "scale", scale, shape);
        }
        int d = x.size(-1);
        if (d == 0) {
            return;
        }
        NormJob job = JOBS.get();
        job.bind(LAYER_NORM_MODULATE, x, out, d);
        job.eps = eps;
        job.shift = shift;
        job.scale = scale;
        job.ssh = BroadcastLoop.innerStride(shift, d);
        job.ssc = BroadcastLoop.innerStride(scale, d);
        job.run(pool);
    }

    /** out = (x − mean)·rstd·(1 + scale) + shift over one row; shift and scale offsets in elements. */
    private static void layerNormModulateRow(
            MemorySegment x,
            long xo,
            MemorySegment o,
            long oo,
            int d,
            float mean,
            float rstd,
            MemorySegment sh,
            long sho,
            long ssh,
            MemorySegment sc,
            long sco,
            long ssc) {
        int j = 0;
        if (ssh == 1 && ssc == 1) {
            for (int bound = S.loopBound(d); j < bound; j += L) {
                FloatVector a = FloatVector.fromMemorySegment(S, sc, 4 * (sco + j), NATIVE)
                        .fma(rstd, rstd);
                FloatVector b = FloatVector.fromMemorySegment(S, sh, 4 * (sho + j), NATIVE);
                FloatVector.fromMemorySegment(S, x, xo + 4L * j, NATIVE)
                        .sub(mean)
                        .fma(a, b)
                        .intoMemorySegment(o, oo + 4L * j, NATIVE);
            }
        } else if (ssh == 0 && ssc == 0) {
            float a = rstd * (1f + sc.getAtIndex(F, sco));
            normalise(x, xo, o, oo, d, mean, a, sh.getAtIndex(F, sho));
            return;
        }
        // Tails, mixed broadcasts and gathered (transposed) rows, element by element.
        for (; j < d; j++) {
            float a = rstd * (1f + sc.getAtIndex(F, sco + j * ssc));
            o.set(F, oo + 4L * j, Math.fma(x.get(F, xo + 4L * j) - mean, a, sh.getAtIndex(F, sho + j * ssh)));
        }
    }

    /** out = (x − mean)·rstd·w + b, a missing w counting as 1 and a missing b as 0. */
    private static void layerNormAffine(
            MemorySegment x,
            long xo,
            MemorySegment o,
            long oo,
            int d,
            float mean,
            float rstd,
            MemorySegment w,
            long wo,
            MemorySegment b,
            long bo) {
        int bound = S.loopBound(d);
        int j = 0;
        for (; j < bound; j += L) {
            FloatVector v = FloatVector.fromMemorySegment(S, x, xo + 4L * j, NATIVE)
                    .sub(mean)
                    .mul(rstd);
            if (w != null) {
                v = v.mul(FloatVector.fromMemorySegment(S, w, wo + 4L * j, NATIVE));
            }
            if (b != null) {
                v = v.add(FloatVector.fromMemorySegment(S, b, bo + 4L * j, NATIVE));
            }
            v.intoMemorySegment(o, oo + 4L * j, NATIVE);
        }
        for (; j < d; j++) {
            float v = (x.get(F, xo + 4L * j) - mean) * rstd;
            if (w != null) {
                v *= w.get(F, wo + 4L * j);
            }
            if (b != null) {
                v += b.get(F, bo + 4L * j);
            }
            o.set(F, oo + 4L * j, v);
        }
    }

    @Override
    public void groupNorm(Tensor x, int groups, Tensor weight, Tensor bias, float eps, Tensor out) {
        groupNorm(x, groups, weight, bias, eps, Activation.NONE, out, null);
    }

    /** The activation is applied as each normalised value is written: one pass over the output. */
    @Override
    public void groupNorm(
            Tensor x,
            int groups,
            Tensor weight,
            Tensor bias,
            float eps,
            Activation activation,
            Tensor out,
            ElementwiseOps elementwise) {
        OpChecks.groupNorm(x, groups, weight, bias, out);
        int n = x.size(0);
        int c = x.size(1);
        if (x.numel() == 0) {
            return;
        }
        int spatial = Math.toIntExact(x.numel() / ((long) n * c));
        int perGroup = c / groups;
        int groupLen = perGroup * spatial;
        MemorySegment xs = x.storage();
        MemorySegment os = out.storage();
        long xBase = x.byteOffset();
        long oBase = out.byteOffset();
        // Group (b, g) is one contiguous run of C/groups channels × spatial positions.
        ParallelLoops.rows(pool, (long) n * groups, groupLen, (from, to) -> {
            for (long i = from; i < to; i++) {
                long xo = xBase + 4 * i * groupLen;
                long oo = oBase + 4 * i * groupLen;
                float mean = sum(xs, xo, groupLen) / groupLen;
                float rstd = (float) (1 / Math.sqrt(sumSquaredDeviations(xs, xo, groupLen, mean) / groupLen + eps));
                int c0 = (int) (i % groups) * perGroup;
                for (int ch = 0; ch < perGroup; ch++) {
                    // Per channel: act((x − mean)·(rstd·w) + b), one FMA per element before the activation.
                    float a = weight == null ? rstd : rstd * weight.getFloat(c0 + ch);
                    float b = bias == null ? 0f : bias.getFloat(c0 + ch);
                    long off = 4L * ch * spatial;
                    if (activation == Activation.NONE) {
                        normalise(xs, xo + off, os, oo + off, spatial, mean, a, b);
                    } else {
                        normaliseActivate(xs, xo + off, os, oo + off, spatial, mean, a, b, activation);
                    }
                }
            }
        });
    }

    /** o = act((x − mean)·a + b) over n floats. */
    private static void normaliseActivate(
            MemorySegment x, long xo, MemorySegment o, long oo, int n, float mean, float a, float b, Activation act) {
        int j = 0;
        for (int bound = S.loopBound(n); j < bound; j += L) {
            FloatVector v = FloatVector.fromMemorySegment(S, x, xo + 4L * j, NATIVE)
                    .sub(mean)
                    .fma(a, b);
            VectorMath.apply(act, v).intoMemorySegment(o, oo + 4L * j, NATIVE);
        }
        for (; j < n; j++) {
            o.set(F, oo + 4L * j, VectorMath.apply(act, Math.fma(x.get(F, xo + 4L * j) - mean, a, b)));
        }
    }

    // ---------------------------------------------------------------- row primitives (byte offsets)

    /** Σ x over n floats. */
    static float sum(MemorySegment x, long xo, int n) {
        FloatVector acc = FloatVector.zero(S);
        int j = 0;
        for (int bound = S.loopBound(n); j < bound; j += L) {
            acc = acc.add(FloatVector.fromMemorySegment(S, x, xo + 4L * j, NATIVE));
        }
        float[] lanes = LANES.get(); // out through the heap: no vector crosses a call (see expAndSum)
        acc.intoArray(lanes, 0);
        float s = VectorMath.sumLanes(lanes);
        for (; j < n; j++) {
            s += x.get(F, xo + 4L * j);
        }
        return s;
    }

    /** Σ (x − mean)² over n floats. */
    static float sumSquaredDeviations(MemorySegment x, long xo, int n, float mean) {
        FloatVector acc = FloatVector.zero(S);
        int j = 0;
        for (int bound = S.loopBound(n); j < bound; j += L) {
            FloatVector dx =
                    FloatVector.fromMemorySegment(S, x, xo + 4L * j, NATIVE).sub(mean);
            acc = dx.fma(dx, acc);
        }
        float[] lanes = LANES.get(); // out through the heap: no vector crosses a call (see expAndSum)
        acc.intoArray(lanes, 0);
        float s = VectorMath.sumLanes(lanes);
        for (; j < n; j++) {
            float dx = x.get(F, xo + 4L * j) - mean;
            s += dx * dx;
        }
        return s;
    }

    /** out = (x − mean)·a + b over n floats. */
    private static void normalise(
            MemorySegment x, long xo, MemorySegment o, long oo, int n, float mean, float a, float b) {
        int j = 0;
        for (int bound = S.loopBound(n); j < bound; j += L) {
            FloatVector.fromMemorySegment(S, x, xo + 4L * j, NATIVE)
                    .sub(mean)
                    .fma(a, b)
                    .intoMemorySegment(o, oo + 4L * j, NATIVE);
        }
        for (; j < n; j++) {
            o.set(F, oo + 4L * j, Math.fma(x.get(F, xo + 4L * j) - mean, a, b));
        }
    }

    /** o = o·a + b in place over n floats. */
    private static void scale(MemorySegment o, long oo, int n, float a, float b) {
        normalise(o, oo, o, oo, n, 0f, a, b);
    }
}
