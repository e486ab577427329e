package org.tessera.engine.cpu;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import org.tessera.engine.backend.Activation;
import org.tessera.engine.backend.BackwardOps;
import org.tessera.engine.backend.OpChecks;
import org.tessera.engine.parallel.WorkerPool;
import org.tessera.engine.tensor.ShapeMismatchException;
import org.tessera.engine.tensor.Tensor;

/**
 * SIMD backward kernels, parallel over rows, element ranges or column panels, run as a
 * {@link Job} kept per calling thread so that a training step allocates nothing here.
 *
 * <p>Deterministic by construction: every output element is summed in an order fixed by the
 * shapes alone (lanes, then rows, then the outer groups, each in index order), never by how the
 * work is split, and only IEEE add, multiply, FMA and divide are used; lane totals go through
 * {@link VectorMath#sumLanes}, not {@code reduceLanes}.
 */
final class VectorBackward implements BackwardOps {
    private static final VectorSpecies<Float> S = VectorMath.S;
    private static final int L = VectorMath.L;
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;

    /** −2√(2/π) and −2√(2/π)·0.044715: −2u = x·(K1 + K3·x²). */
    private static final float GELU_K1 = -2f * Activation.SQRT_2_OVER_PI;

    private static final float GELU_K3 = -2f * Activation.SQRT_2_OVER_PI * Activation.GELU_CUBIC;
    /** 2√(2/π) and 6√(2/π)·0.044715: d/dx of 2u = D1 + D3·x². */
    private static final float GELU_D1 = 2f * Activation.SQRT_2_OVER_PI;

    private static final float GELU_D3 = 6f * Activation.SQRT_2_OVER_PI * Activation.GELU_CUBIC;
    /**
     * The top of the exponent range used here: e^88 is finite and its power of two 2¹²⁷ the
     * largest, so the exp needs no overflow case; above it σ is 0 to 38 decimal places anyway.
     */
    private static final float EXP_TOP = 88f;

    private static final FloatVector ONE = FloatVector.broadcast(S, 1f);

    /** Columns per task of a column sum: a panel of four vectors stays in registers across rows. */
    private static final int PANEL = 4 * L;

    private static final int ACTIVATION_GRAD = 0;
    private static final int COLUMN_SUMS = 1;
    private static final int ROW_SUMS = 2;
    private static final int LAYER_NORM_GRAD = 3;
    private static final int SOFTMAX_GRAD = 4;

    private static final ThreadLocal<Job> JOBS = ThreadLocal.withInitial(Job::new);
    private static final ThreadLocal<float[]> LANES = ThreadLocal.withInitial(() -> new float[L]);

    private final WorkerPool pool;

    VectorBackward(WorkerPool pool) {
        this.pool = pool;
    }

    @Override
    public void activationGrad(Activation activation, Tensor pre, Tensor g, Tensor out) {
        requireSameContiguous("activation gradient", pre, g, out);
        Job job = JOBS.get();
        job.bind(ACTIVATION_GRAD, pre, g, out);
        job.activation = activation;
        job.runElements(pool, out.numel());
    }

    @Override
    public void layerNormGrad(Tensor x, Tensor gy, float eps, Tensor out) {
        requireSameContiguous("layer norm gradient", x, gy, out);
        Job job = JOBS.get();
        job.bind(LAYER_NORM_GRAD, x, gy, out);
        job.eps = eps;
        job.d = x.size(-1);
        job.runRows(pool, x.numel() / job.d, job.d);
    }

    @Override
    public void softmaxGrad(Tensor y, Tensor gy, Tensor out) {
        requireSameContiguous("softmax gradient", y, gy, out);
        Job job = JOBS.get();
        job.bind(SOFTMAX_GRAD, y, gy, out);
        job.d = y.size(-1);
        job.runRows(pool, y.numel() / job.d, job.d);
    }

    /**
     * The shapes are folded into alternating groups of kept and summed dimensions (x's dims of
     * size 1 dropped, neighbours of one kind merged): [.., S, K] sums columns, [.., K, S] sums
     * rows, and any groups further out are an outer loop whose kept groups pick the output block
     * and whose summed groups add into it.
     */
    @Override
    public void sumTo(Tensor x, Tensor out) {
        OpChecks.f32("sum_to", "x", x);
        OpChecks.f32("sum_to", "out", out);
        if (!x.isContiguous() || !out.isContiguous()) {
            throw new ShapeMismatchException("sum_to: expects contiguous tensors, got " + x + " and " + out);
        }
        Job job = JOBS.get();
        job.bind(COLUMN_SUMS, x, null, out);
        job.fold(x, out);
        int groups = job.groups;
        if (groups == 0) { // nothing to sum: x and out hold the same elements
            MemorySegment.copy(x.storage(), x.byteOffset(), out.storage(), out.byteOffset(), 4 * x.numel());
            job.release();
            return;
        }
        boolean innerKept = job.kept[groups - 1];
        job.inner = job.size[groups - 1]; // the contiguous group
        job.across = groups >= 2 ? job.size[groups - 2] : 1; // the group next to it, of the other kind
        int outerGroups = Math.max(0, groups - 2);
        long outer = 1;
        boolean outerSums = false;
        for (int i = 0; i < outerGroups; i++) {
            outer *= job.size[i];
            outerSums |= !job.kept[i];
        }
        job.outer = outer;
        job.outerGroups = outerGroups;
        job.outerSums = outerSums;
        if (outerSums) { // the tasks add every outer block into out
            out.storage().asSlice(out.byteOffset(), 4 * out.numel()).fill((byte) 0);
        }
        if (innerKept) {
            // [.., S, K]: panels of columns; with only kept groups outside, each outer block is its own task
            job.kind = COLUMN_SUMS;
            job.panels = (job.inner + PANEL - 1) / PANEL;
            long tasks = outerSums ? job.panels : outer * job.panels;
            job.runRows(pool, tasks, x.numel() / tasks);
        } else {
            // [.., K, S] (or one summed group): row sums, the kept group's rows split among tasks
            job.kind = ROW_SUMS;
            long kept = groups >= 2 ? job.across : 1;
            long tasks = outerSums ? kept : outer * kept;
            job.runRows(pool, tasks, x.numel() / tasks);
        }
    }

    private static void requireSameContiguous(String op, Tensor a, Tensor b, Tensor out) {
        OpChecks.f32(op, "input", a);
        OpChecks.f32(op, "gradient", b);
        OpChecks.f32(op, "output", out);
        if (!a.sameShape(b) || !a.sameShape(out) || !a.isContiguous() || !b.isContiguous() || !out.isContiguous()) {
            throw new ShapeMismatchException(
                    op + ": expects contiguous tensors of one shape, got " + a + ", " + b + " and " + out);
        }
    }

    /** One call's operands and its split into tasks. */
    private static final class Job extends ParallelLoops.RangeJob {
        int kind;
        Activation activation;
        float eps;
        int d;
        MemorySegment as;
        MemorySegment bs;
        MemorySegment os;
        long aBase;
        long bBase;
        long oBase;
        // sum_to's folded shape: group i has size[i] elements and is kept (in out) or summed
        int groups;
        long[] size = new long[8];
        boolean[] kept = new boolean[8];
        long[] outStride = new long[8];
        int[] odometer = new int[8];
        long inner;
        long across;
        long outer;
        int outerGroups;
        boolean outerSums;
        long panels;

        void bind(int kind, Tensor a, Tensor b, Tensor out) {
            this.kind = kind;
            as = a.storage();
            aBase = a.byteOffset();
            bs = b == null ? null : b.storage();
            bBase = b == null ? 0 : b.byteOffset();
            os = out.storage();
            oBase = out.byteOffset();
        }

        void release() {
            as = bs = os = null;
            activation = null;
        }

        void runElements(WorkerPool pool, long n) {
            try {
                forElements(pool, n);
            } finally {
                release();
            }
        }

        void runRows(WorkerPool pool, long rows, long rowLength) {
            try {
                forRows(pool, rows, rowLength);
            } finally {
                release();
            }
        }

        /** Folds x's shape against out's (right-aligned) into groups; see {@link #sumTo}. */
        void fold(Tensor x, Tensor out) {
            int rank = x.rank();
            if (size.length < rank) {
                size = new long[rank];
                kept = new boolean[rank];
                outStride = new long[rank];
                odometer = new int[rank];
            }
            groups = 0;
            int lead = rank - out.rank();
            for (int dim = 0; dim < rank; dim++) {
                int n = x.size(dim);
                if (n == 1) {
                    continue;
                }
                int od = dim - lead;
                boolean keep = od >= 0 && out.size(od) == n;
                if (groups > 0 && kept[groups - 1] == keep) {
                    size[groups - 1] *= n;
                } else {
                    size[groups] = n;
                    kept[groups] = keep;
                    groups++;
                }
            }
            boolean anySummed = false;
            long stride = 1;
            for (int i = groups - 1; i >= 0; i--) {
                outStride[i] = kept[i] ? stride : 0;
                if (kept[i]) {
                    stride *= size[i];
                } else {
                    anySummed = true;
                }
            }
            if (!anySummed) {
                groups = 0;
            }
        }

        @Override
        void range(long from, long to) {
            switch (kind) {
                case ACTIVATION_GRAD -> activationGradRange(from, to);
                case COLUMN_SUMS -> columnSumTasks(from, to);
                case ROW_SUMS -> rowSumTasks(from, to);
                case LAYER_NORM_GRAD -> layerNormGradRows(from, to);
                default -> softmaxGradRows(from, to);
            }
        }

        // ------------------------------------------------------------ activation gradients

        /**
         * g·act'(x) with σ = 1/(1 + e^z): GELU-tanh has z = −2u and act' = σ + x·σ(1 − σ)·(D1 + D3x²)
         * (from ½(1 + tanh u) = σ(2u) and 1 − tanh²u = 4σ(1 − σ)); SiLU has z = −x and
         * act' = σ(1 + x(1 − σ)). The exp is written out (VectorExp's recipe, no vector crosses a
         * call) with z clamped to [MIN_X, 88], which needs no blends: e^88 is finite, and where
         * the exact e^z underflows, 1 + e^MIN_X is 1 all the same.
         */
        private void activationGradRange(long from, long to) {
            boolean gelu = activation == Activation.GELU_TANH;
            if (activation == Activation.NONE) {
                MemorySegment.copy(bs, bBase + 4 * from, os, oBase + 4 * from, 4 * (to - from));
                return;
            }
            long i = from;
            for (long bound = from + S.loopBound(to - from); i < bound; i += L) {
                FloatVector x = FloatVector.fromMemorySegment(S, as, aBase + 4 * i, NATIVE);
                FloatVector z = gelu ? x.mul(x).fma(GELU_K3, GELU_K1).mul(x) : x.neg();
                FloatVector zc = z.max(VectorExp.MIN_X).min(EXP_TOP);
                FloatVector k = zc.fma(VectorExp.LOG2E, VectorExp.ROUND).sub(VectorExp.ROUND);
                FloatVector r = k.fma(VectorExp.NEG_LN2_HI, zc);
                r = k.fma(VectorExp.NEG_LN2_LO, r);
                FloatVector p = r.fma(1.9875691500e-4f, 1.3981999507e-3f);
                p = p.fma(r, VectorExp.C3);
                p = p.fma(r, VectorExp.C4);
                p = p.fma(r, VectorExp.C5);
                p = p.fma(r, VectorExp.C6);
                FloatVector y = p.mul(r).fma(r, r).add(1f);
                IntVector bits = (IntVector) k.convert(VectorOperators.F2I, 0);
                FloatVector e =
                        y.mul(bits.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats());
                FloatVector s = ONE.div(e.add(1f));
                FloatVector oneMinus = ONE.sub(s);
                FloatVector derivative = gelu
                        ? x.mul(x)
                                .fma(GELU_D3, GELU_D1)
                                .mul(x)
                                .mul(s.mul(oneMinus))
                                .add(s)
                        : x.fma(oneMinus, ONE).mul(s);
                FloatVector g = FloatVector.fromMemorySegment(S, bs, bBase + 4 * i, NATIVE);
                g.mul(derivative).intoMemorySegment(os, oBase + 4 * i, NATIVE);
            }
            for (; i < to; i++) {
                os.set(F, oBase + 4 * i, bs.get(F, bBase + 4 * i) * derivative(gelu, as.get(F, aBase + 4 * i)));
            }
        }

        // ------------------------------------------------------------ sums

        /** Out's element offset and x's of outer block {@code o} (an index over the outer groups). */
        private long outerOut(long o) {
            long off = 0;
            for (int i = outerGroups - 1; i >= 0; i--) {
                off += (o % size[i]) * outStride[i];
                o /= size[i];
            }
            return off;
        }

        /**
         * Tasks of {@code [.., S, K]}: task t sums the columns of panel t % panels of outer block
         * t / panels; when an outer group is summed too, task t takes panel t of every block in
         * turn and adds into out, which the caller zeroed (tasks own disjoint columns).
         */
        private void columnSumTasks(long from, long to) {
            long blockElems = across * inner;
            for (long t = from; t < to; t++) {
                long c0 = (t % panels) * PANEL;
                int width = (int) Math.min(PANEL, inner - c0);
                if (outerSums) {
                    for (long o = 0; o < outer; o++) {
                        columnSums(aBase + 4 * (o * blockElems + c0), oBase + 4 * (outerOut(o) + c0), width, true);
                    }
                } else {
                    long o = t / panels;
                    columnSums(aBase + 4 * (o * blockElems + c0), oBase + 4 * (outerOut(o) + c0), width, false);
                }
            }
        }

        /** out[c] (+)= Σ_r x[r·inner + c] for c < width, rows in order, four vectors at a time. */
        private void columnSums(long xByte, long oByte, int width, boolean add) {
            long rowBytes = 4L * inner;
            int c = 0;
            if (width == PANEL) {
                FloatVector s0 = FloatVector.zero(S);
                FloatVector s1 = FloatVector.zero(S);
                FloatVector s2 = FloatVector.zero(S);
                FloatVector s3 = FloatVector.zero(S);
                long at = xByte;
                for (long r = 0; r < across; r++, at += rowBytes) {
                    s0 = s0.add(FloatVector.fromMemorySegment(S, as, at, NATIVE));
                    s1 = s1.add(FloatVector.fromMemorySegment(S, as, at + 4L * L, NATIVE));
                    s2 = s2.add(FloatVector.fromMemorySegment(S, as, at + 8L * L, NATIVE));
                    s3 = s3.add(FloatVector.fromMemorySegment(S, as, at + 12L * L, NATIVE));
                }
                if (add) {
                    s0 = s0.add(FloatVector.fromMemorySegment(S, os, oByte, NATIVE));
                    s1 = s1.add(FloatVector.fromMemorySegment(S, os, oByte + 4L * L, NATIVE));
                    s2 = s2.add(FloatVector.fromMemorySegment(S, os, oByte + 8L * L, NATIVE));
                    s3 = s3.add(FloatVector.fromMemorySegment(S, os, oByte + 12L * L, NATIVE));
                }
                s0.intoMemorySegment(os, oByte, NATIVE);
                s1.intoMemorySegment(os, oByte + 4L * L, NATIVE);
                s2.intoMemorySegment(os, oByte + 8L * L, NATIVE);
                s3.intoMemorySegment(os, oByte + 12L * L, NATIVE);
                return;
            }
            for (; c + L <= width; c += L) {
                FloatVector s = FloatVector.zero(S);
                long at = xByte + 4L * c;
                for (long r = 0; r < across; r++, at += rowBytes) {
                    s = s.add(FloatVector.fromMemorySegment(S, as, at, NATIVE));
                }
                if (add) {
                    s = s.add(FloatVector.fromMemorySegment(S, os, oByte + 4L * c, NATIVE));
                }
                s.intoMemorySegment(os, oByte + 4L * c, NATIVE);
            }
            for (; c < width; c++) {
                float s = 0;
                long at = xByte + 4L * c;
                for (long r = 0; r < across; r++, at += rowBytes) {
                    s += as.get(F, at);
                }
                os.set(F, oByte + 4L * c, add ? os.get(F, oByte + 4L * c) + s : s);
            }
        }

        /**
         * Tasks of {@code [.., K, S]}: task t sums row t % K of outer block t / K; when an outer
         * group is summed too, row t of every block in turn, added into out (zeroed by the caller).
         */
        private void rowSumTasks(long from, long to) {
            long rows = groups >= 2 ? across : 1;
            long blockElems = rows * inner;
            for (long t = from; t < to; t++) {
                if (outerSums) {
                    for (long o = 0; o < outer; o++) {
                        long at = oBase + 4 * (outerOut(o) + t);
                        os.set(F, at, os.get(F, at) + rowSum(aBase + 4 * (o * blockElems + t * inner), inner));
                    }
                } else {
                    long o = t / rows;
                    long row = t % rows;
                    os.set(
                            F,
                            oBase + 4 * (outerOut(o) + row),
                            rowSum(aBase + 4 * (o * blockElems + row * inner), inner));
                }
            }
        }

        private float rowSum(long xByte, long n) {
            float total = 0;
            // pieces of at most 2^20 elements so that lane sums stay short and the index an int
            for (long done = 0; done < n; done += 1 << 20) {
                total += VectorNorms.sum(as, xByte + 4 * done, (int) Math.min(1 << 20, n - done));
            }
            return total;
        }

        // ------------------------------------------------------------ rows

        /** dx = (gy − mean(gy) − x̂·mean(gy·x̂))·rstd per row, x̂ = (x − mean)·rstd as the forward has it. */
        private void layerNormGradRows(long from, long to) {
            float[] lanes = LANES.get();
            for (long row = from; row < to; row++) {
                long xo = aBase + 4 * row * d;
                long go = bBase + 4 * row * d;
                long oo = oBase + 4 * row * d;
                float mean = VectorNorms.sum(as, xo, d) / d;
                float rstd = (float) (1 / Math.sqrt(VectorNorms.sumSquaredDeviations(as, xo, d, mean) / d + eps));
                FloatVector sg = FloatVector.zero(S);
                FloatVector sgx = FloatVector.zero(S);
                int j = 0;
                for (int bound = S.loopBound(d); j < bound; j += L) {
                    FloatVector g = FloatVector.fromMemorySegment(S, bs, go + 4L * j, NATIVE);
                    FloatVector xhat = FloatVector.fromMemorySegment(S, as, xo + 4L * j, NATIVE)
                            .sub(mean)
                            .mul(rstd);
                    sg = sg.add(g);
                    sgx = g.fma(xhat, sgx);
                }
                sg.intoArray(lanes, 0);
                float sumG = VectorMath.sumLanes(lanes);
                sgx.intoArray(lanes, 0);
                float sumGx = VectorMath.sumLanes(lanes);
                for (int t = j; t < d; t++) {
                    float g = bs.get(F, go + 4L * t);
                    sumG += g;
                    sumGx += g * ((as.get(F, xo + 4L * t) - mean) * rstd);
                }
                float meanG = sumG / d;
                float meanGx = sumGx / d;
                j = 0;
                for (int bound = S.loopBound(d); j < bound; j += L) {
                    FloatVector g = FloatVector.fromMemorySegment(S, bs, go + 4L * j, NATIVE);
                    FloatVector xhat = FloatVector.fromMemorySegment(S, as, xo + 4L * j, NATIVE)
                            .sub(mean)
                            .mul(rstd);
                    g.sub(meanG).sub(xhat.mul(meanGx)).mul(rstd).intoMemorySegment(os, oo + 4L * j, NATIVE);
                }
                for (; j < d; j++) {
                    float xhat = (as.get(F, xo + 4L * j) - mean) * rstd;
                    os.set(F, oo + 4L * j, (bs.get(F, go + 4L * j) - meanG - xhat * meanGx) * rstd);
                }
            }
        }

        /** dx = y ⊙ (gy − Σ gy⊙y) per row. */
        private void softmaxGradRows(long from, long to) {
            float[] lanes = LANES.get();
            for (long row = from; row < to; row++) {
                long yo = aBase + 4 * row * d;
                long go = bBase + 4 * row * d;
                long oo = oBase + 4 * row * d;
                FloatVector acc = FloatVector.zero(S);
                int j = 0;
                for (int bound = S.loopBound(d); j < bound; j += L) {
                    acc = FloatVector.fromMemorySegment(S, bs, go + 4L * j, NATIVE)
                            .fma(FloatVector.fromMemorySegment(S, as, yo + 4L * j, NATIVE), acc);
                }
                acc.intoArray(lanes, 0);
                float dot = VectorMath.sumLanes(lanes);
                for (int t = j; t < d; t++) {
                    dot += bs.get(F, go + 4L * t) * as.get(F, yo + 4L * t);
                }
                j = 0;
                for (int bound = S.loopBound(d); j < bound; j += L) {
                    FloatVector y = FloatVector.fromMemorySegment(S, as, yo + 4L * j, NATIVE);
                    FloatVector g = FloatVector.fromMemorySegment(S, bs, go + 4L * j, NATIVE);
                    g.sub(dot).mul(y).intoMemorySegment(os, oo + 4L * j, NATIVE);
                }
                for (; j < d; j++) {
                    os.set(F, oo + 4L * j, as.get(F, yo + 4L * j) * (bs.get(F, go + 4L * j) - dot));
                }
            }
        }
    }

    /** The scalar twin of the vector body of {@link Job#activationGradRange}, for loop tails. */
    static float derivative(boolean gelu, float x) {
        float z = gelu ? Math.fma(x * x, GELU_K3, GELU_K1) * x : -x;
        float e = VectorExp.exp(Math.min(Math.max(z, VectorExp.MIN_X), EXP_TOP));
        float s = 1f / (e + 1f);
        float oneMinus = 1f - s;
        return gelu ? Math.fma(x * x, GELU_D3, GELU_D1) * x * (s * oneMinus) + s : Math.fma(x, oneMinus, 1f) * s;
    }
}
