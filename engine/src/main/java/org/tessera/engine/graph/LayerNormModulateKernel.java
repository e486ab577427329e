package org.tessera.engine.graph;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.tessera.engine.parallel.WorkerPool;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.ShapeMismatchException;
import org.tessera.engine.tensor.Shapes;
import org.tessera.engine.tensor.Tensor;

/**
 * DiT's {@code modulate(norm(x), shift, scale)} in one pass per row, for the fusion pass:
 * <pre>  out = (x − μ) / √(σ² + eps) · (1 + scale) + shift</pre>
 * with μ, σ² the mean and population variance of the row of x (affine-free LayerNorm), and shift
 * and scale broadcast to x (DiT: [B, 1, D] against x [B, T, D]). The backend families have no
 * fused kernel, so this is a plain loop: mean and variance in double (two passes over the row,
 * which stays in L1), then one pass that writes the result, saving the intermediate tensor and
 * one round trip through memory. Rows run in parallel on the pool.
 */
final class LayerNormModulateKernel {
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;
    /** Rows per task, so that a task carries enough work to amortise its dispatch. */
    private static final int MIN_ELEMENTS_PER_TASK = 1 << 14;

    private final WorkerPool pool;
    private final Tensor shift;
    private final Tensor scale;
    private final MemorySegment xs;
    private final MemorySegment os;
    private final MemorySegment shiftSeg;
    private final MemorySegment scaleSeg;
    private final long xBase;
    private final long outBase;
    private final long shiftInner;
    private final long scaleInner;
    private final int d;
    private final int rows;
    private final int tasks;
    private final float eps;
    private final WorkerPool.Task task;

    /** x and out contiguous f32 of one shape; shift and scale broadcastable to it. */
    LayerNormModulateKernel(WorkerPool pool, Tensor x, Tensor shift, Tensor scale, float eps, Tensor out) {
        if (x.dtype() != DType.F32 || out.dtype() != DType.F32 || !x.isContiguous() || !out.isContiguous()
                || !x.sameShape(out) || x.rank() < 1) {
            throw new ShapeMismatchException("layerNormModulate: input " + Shapes.toString(x.shape()) + " and output "
                    + Shapes.toString(out.shape()) + " must be contiguous f32 of one shape");
        }
        this.pool = pool;
        this.shift = shift.expand(x.shape());
        this.scale = scale.expand(x.shape());
        this.xs = x.storage();
        this.os = out.storage();
        this.shiftSeg = shift.storage();
        this.scaleSeg = scale.storage();
        this.xBase = x.offset();
        this.outBase = out.offset();
        this.shiftInner = this.shift.stride(-1);
        this.scaleInner = this.scale.stride(-1);
        this.d = x.size(-1);
        this.rows = d == 0 ? 0 : Math.toIntExact(x.numel() / d);
        this.tasks = (int) Math.max(1, Math.min(rows, x.numel() / MIN_ELEMENTS_PER_TASK));
        this.eps = eps;
        this.task = this::rowsTask;
    }

    void run() {
        if (tasks <= 1) {
            rows(0, rows);
        } else {
            pool.run(tasks, task);
        }
    }

    private void rowsTask(int t) {
        rows((int) ((long) rows * t / tasks), (int) ((long) rows * (t + 1) / tasks));
    }

    private void rows(int from, int to) {
        for (int r = from; r < to; r++) {
            long x0 = xBase + (long) r * d;
            double sum = 0;
            for (int i = 0; i < d; i++) {
                sum += xs.getAtIndex(F, x0 + i);
            }
            double mean = sum / d;
            double sq = 0;
            for (int i = 0; i < d; i++) {
                double c = xs.getAtIndex(F, x0 + i) - mean;
                sq += c * c;
            }
            float rstd = (float) (1.0 / Math.sqrt(sq / d + eps));
            float mu = (float) mean;
            // The broadcast views give each row's first shift and scale element directly.
            long sh = shift.elementOffset((long) r * d);
            long sc = scale.elementOffset((long) r * d);
            long o0 = outBase + (long) r * d;
            for (int i = 0; i < d; i++) {
                float n = (xs.getAtIndex(F, x0 + i) - mu) * rstd;
                float s = scaleSeg.getAtIndex(F, sc + i * scaleInner);
                float b = shiftSeg.getAtIndex(F, sh + i * shiftInner);
                os.setAtIndex(F, o0 + i, n * (1f + s) + b);
            }
        }
    }
}
