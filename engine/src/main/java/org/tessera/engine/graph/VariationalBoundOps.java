package org.tessera.engine.graph;

import static org.tessera.engine.graph.ShapeRules.dims;
import static org.tessera.engine.graph.ShapeRules.f32;
import static org.tessera.engine.graph.ShapeRules.mismatch;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.List;
import org.tessera.engine.diffusion.GaussianTerms;
import org.tessera.engine.diffusion.NoiseSchedule;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Tensor;

/**
 * The variational-bound term of the hybrid loss (Nichol &amp; Dhariwal 2021, as DiT trains a learned
 * range of variances), as a graph op whose gradient reaches only the model's variance channels v:
 * the reference computes the term on {@code cat([eps.detach(), v])}, and this op's ε̂ input gets no
 * gradient, which is that detach.
 *
 * <p>Row b of {@code coefficients} [B, 7] holds the numbers of sample b's step t: a_t = √(1/ᾱ_t),
 * b_t = √(1/ᾱ_t − 1), the posterior mean's c1_t and c2_t, log β̃_t (clipped), log β_t, and 1 when
 * t = 0 (else 0). Then, per element,
 *
 * <pre>
 *   x̂₀ = a_t·x_t − b_t·ε̂                          (no clipping, as the reference trains)
 *   μ_θ = c1_t·x̂₀ + c2_t·x_t        μ̃ = c1_t·x₀ + c2_t·x_t
 *   log σ²_θ = f·log β_t + (1 − f)·log β̃_t,  f = (v + 1)/2
 *   term = KL(N(μ̃, β̃_t) ‖ N(μ_θ, σ²_θ))                       for t > 0
 *        = −log P(x₀ | μ_θ, σ_θ), 8-bit bins of [−1, 1]        for t = 0
 * </pre>
 *
 * and the op gives, per sample, {@code scale} × the mean term over its elements / ln 2 (bits per
 * dimension; DiT's {@code RESCALED_MSE} scales by T/1000).
 */
public final class VariationalBoundOps {
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final double LN2 = Math.log(2.0);

    /** Columns of the coefficient rows. */
    public static final int A = 0, B = 1, C1 = 2, C2 = 3, MIN_LOG = 4, MAX_LOG = 5, AT_ZERO = 6, COLUMNS = 7;

    private VariationalBoundOps() {}

    /** Fills {@code out} [B, 7] (contiguous f32) with row b the coefficients of step t[b] of {@code schedule}. */
    public static void fillCoefficients(NoiseSchedule schedule, int[] t, Tensor out) {
        if (out.dtype() != DType.F32
                || out.rank() != 2
                || out.size(0) != t.length
                || out.size(1) != COLUMNS
                || !out.isContiguous()) {
            throw new IllegalArgumentException("vlb coefficients: out must be a contiguous f32 [" + t.length + ", "
                    + COLUMNS + "], got " + Arrays.toString(out.shape()));
        }
        MemorySegment m = out.storage();
        for (int b = 0; b < t.length; b++) {
            double alphaBar = schedule.alphaBar(t[b]);
            long row = out.byteOffset() + 4L * COLUMNS * b;
            m.set(F, row + 4L * A, (float) Math.sqrt(1 / alphaBar));
            m.set(F, row + 4L * B, (float) Math.sqrt(1 / alphaBar - 1));
            m.set(F, row + 4L * C1, (float) schedule.posteriorMeanCoef1(t[b]));
            m.set(F, row + 4L * C2, (float) schedule.posteriorMeanCoef2(t[b]));
            m.set(F, row + 4L * MIN_LOG, (float) schedule.posteriorLogVarianceClipped(t[b]));
            m.set(F, row + 4L * MAX_LOG, (float) Math.log(schedule.beta(t[b])));
            m.set(F, row + 4L * AT_ZERO, t[b] == 0 ? 1f : 0f);
        }
    }

    /** Inputs (v, ε̂, x_t, x₀, coefficients); per-sample terms [B]. */
    public record VlbTerm(float scale) implements Op {
        public String kind() {
            return "vlb_term";
        }

        @Override
        public String attributes() {
            return "scale=" + scale;
        }

        @Override
        public OutputType infer(List<Value> in) {
            check(kind(), in);
            return new OutputType(new int[] {in.get(0).size(0)}, DType.F32);
        }

        @Override
        public boolean needsContiguous(int slot) {
            return true;
        }

        @Override
        public Runnable kernel(KernelArgs k) {
            Tensor[] in = k.in();
            Tensor out = k.out();
            Element e = new Element();
            return () -> {
                int batch = in[0].size(0);
                long per = in[0].numel() / batch;
                for (int b = 0; b < batch; b++) {
                    e.sample(in[4], b);
                    double sum = 0;
                    for (long i = b * per; i < (b + 1) * per; i++) {
                        e.load(in, i);
                        sum += e.atZero
                                ? -GaussianTerms.discretizedLogLikelihood(e.x0, e.meanModel, 0.5 * e.logVarModel)
                                : GaussianTerms.normalKl(e.meanTrue, e.minLog, e.meanModel, e.logVarModel);
                    }
                    out.storage().set(F, out.byteOffset() + 4L * b, (float) (scale * sum / per / LN2));
                }
            };
        }

        @Override
        public Runnable deviceKernel(KernelArgs k) {
            return GradientOps.onHostOnly(kind());
        }

        @Override
        public Gradient gradient() {
            return (graph, node, g) -> {
                List<Value> in = new java.util.ArrayList<>(node.inputs());
                in.add(g);
                return Arrays.asList(graph.apply(new VlbTermGrad(scale), in), null, null, null, null);
            };
        }
    }

    /**
     * ∂/∂v of {@link VlbTerm} times the upstream g [B]: per element
     * g_b·scale/(n·ln 2) · ∂term/∂log σ²_θ · (log β_t − log β̃_t)/2.
     */
    public record VlbTermGrad(float scale) implements Op {
        public String kind() {
            return "vlb_term_grad";
        }

        @Override
        public String attributes() {
            return "scale=" + scale;
        }

        @Override
        public OutputType infer(List<Value> in) {
            check(kind(), in.subList(0, 5));
            Value g = in.get(5);
            f32(kind(), g);
            if (g.rank() != 1 || g.size(0) != in.get(0).size(0)) {
                throw mismatch(
                        kind(), "gradient " + dims(g) + " must be [" + in.get(0).size(0) + "]");
            }
            return new OutputType(in.get(0).shape(), DType.F32);
        }

        @Override
        public boolean needsContiguous(int slot) {
            return true;
        }

        @Override
        public Runnable kernel(KernelArgs k) {
            Tensor[] in = k.in();
            Tensor out = k.out();
            Element e = new Element();
            return () -> {
                int batch = in[0].size(0);
                long per = in[0].numel() / batch;
                MemorySegment gs = in[5].storage();
                MemorySegment os = out.storage();
                for (int b = 0; b < batch; b++) {
                    double gb = gs.get(F, in[5].byteOffset() + 4L * b) * scale / per / LN2;
                    e.sample(in[4], b);
                    for (long i = b * per; i < (b + 1) * per; i++) {
                        e.load(in, i);
                        double byLogVar = e.atZero
                                // −log P with log-scale s = ½ log σ²: ∂/∂ log σ² = −½ ∂ log P/∂s
                                ? -0.5
                                        * GaussianTerms.discretizedLogLikelihoodByLogScale(
                                                e.x0, e.meanModel, 0.5 * e.logVarModel)
                                : GaussianTerms.normalKlByLogVar2(e.meanTrue, e.minLog, e.meanModel, e.logVarModel);
                        os.set(F, out.byteOffset() + 4L * i, (float) (gb * byLogVar * 0.5 * (e.maxLog - e.minLog)));
                    }
                }
            };
        }

        @Override
        public Runnable deviceKernel(KernelArgs k) {
            return GradientOps.onHostOnly(kind());
        }
    }

    /**
     * One element's quantities, from the op's inputs (v, ε̂, x_t, x₀, coefficients): one object per
     * kernel, its sample's coefficients read once per sample and the rest refilled per element, so
     * that a run allocates nothing.
     */
    private static final class Element {
        private double a;
        private double bt;
        private double c1;
        private double c2;
        double minLog;
        double maxLog;
        boolean atZero;
        double x0;
        double meanTrue;
        double meanModel;
        double logVarModel;

        /** Reads sample b's row of coefficients. */
        void sample(Tensor coefficients, int b) {
            MemorySegment cs = coefficients.storage();
            long row = coefficients.byteOffset() + 4L * COLUMNS * b;
            a = cs.get(F, row + 4L * A);
            bt = cs.get(F, row + 4L * B);
            c1 = cs.get(F, row + 4L * C1);
            c2 = cs.get(F, row + 4L * C2);
            minLog = cs.get(F, row + 4L * MIN_LOG);
            maxLog = cs.get(F, row + 4L * MAX_LOG);
            atZero = cs.get(F, row + 4L * AT_ZERO) != 0;
        }

        /** Loads flat index i, of the sample last read. */
        void load(Tensor[] in, long i) {
            double v = at(in[0], i);
            double eps = at(in[1], i);
            double xt = at(in[2], i);
            x0 = at(in[3], i);
            double x0Hat = a * xt - bt * eps;
            double frac = (v + 1) / 2;
            meanTrue = c1 * x0 + c2 * xt;
            meanModel = c1 * x0Hat + c2 * xt;
            logVarModel = frac * maxLog + (1 - frac) * minLog;
        }

        private static double at(Tensor t, long i) {
            return t.storage().get(F, t.byteOffset() + 4L * i);
        }
    }

    /** v, ε̂, x_t and x₀ of one shape [B, …], coefficients [B, 7]. */
    private static void check(String kind, List<Value> in) {
        f32(kind, in.get(0), in.get(1), in.get(2), in.get(3), in.get(4));
        int[] shape = in.get(0).shape();
        for (int i = 1; i < 4; i++) {
            if (!Arrays.equals(shape, in.get(i).shape())) {
                throw mismatch(
                        kind, "v " + dims(in.get(0)) + ", ε̂, x_t and x₀ must have one shape; got " + dims(in.get(i)));
            }
        }
        Value coef = in.get(4);
        if (coef.rank() != 2 || coef.size(0) != shape[0] || coef.size(1) != COLUMNS) {
            throw mismatch(kind, "coefficients " + dims(coef) + " must be [" + shape[0] + ", " + COLUMNS + "]");
        }
    }
}
