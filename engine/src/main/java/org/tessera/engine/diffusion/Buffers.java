package org.tessera.engine.diffusion;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.ShapeMismatchException;
import org.tessera.engine.tensor.Shapes;
import org.tessera.engine.tensor.Tensor;

/**
 * Small helpers for the per-element formulas the backend's ops do not cover (exp, clamps,
 * quantiles, the discretised likelihood) and for batch-shaped buffers.
 *
 * <p>The in-place helpers work directly on the storage of a contiguous F32 tensor and allocate
 * nothing, so the sampling loop can call them every step.
 */
final class Buffers {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;

    private Buffers() {}

    /** A fresh zeroed F32 tensor of {@code shape}, freed by the garbage collector. */
    static Tensor zeros(int... shape) {
        return Tensor.zeros(Arena.ofAuto(), DType.F32, shape);
    }

    /** A float tensor holding {@code values}. */
    static Tensor of(float[] values, int... shape) {
        return Tensor.of(Arena.ofAuto(), values, shape);
    }

    /**
     * A per-sample value broadcast to {@code shape} [B, …] without copying: a [B, 1, …, 1]
     * tensor expanded with stride 0.
     */
    static Tensor perSample(double[] values, int[] shape) {
        float[] v = new float[values.length];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) values[i];
        }
        int[] column = new int[shape.length];
        Arrays.fill(column, 1);
        column[0] = values.length;
        return of(v, column).expand(shape);
    }

    // ---------------------------------------------------------------- in place, no allocation

    /** Element {@code i} of a contiguous F32 tensor. */
    static float get(Tensor t, long i) {
        return t.storage().getAtIndex(F32, t.offset() + i);
    }

    /** Sets element {@code i} of a contiguous F32 tensor. */
    static void set(Tensor t, long i, float v) {
        t.storage().setAtIndex(F32, t.offset() + i, v);
    }

    /** Sets elements {@code [from, from + count)} of a contiguous F32 tensor to {@code v}. */
    static void fill(Tensor t, long from, long count, float v) {
        MemorySegment seg = t.storage();
        long base = t.offset() + from;
        for (long i = 0; i < count; i++) {
            seg.setAtIndex(F32, base + i, v);
        }
    }

    /** t ← exp(factor·t) per element of a contiguous F32 tensor, in double, rounded once. */
    static void expInPlace(Tensor t, double factor) {
        MemorySegment seg = t.storage();
        long base = t.offset();
        long n = t.numel();
        for (long i = 0; i < n; i++) {
            seg.setAtIndex(F32, base + i, (float) Math.exp(factor * seg.getAtIndex(F32, base + i)));
        }
    }

    /** Index of the first NaN or infinity in a contiguous F32 tensor, or −1. */
    static long firstNonFinite(Tensor t) {
        MemorySegment seg = t.storage();
        long base = t.offset();
        long n = t.numel();
        for (long i = 0; i < n; i++) {
            if (!Float.isFinite(seg.getAtIndex(F32, base + i))) {
                return i;
            }
        }
        return -1;
    }

    /** How many NaNs and infinities a contiguous F32 tensor holds. */
    static long countNonFinite(Tensor t) {
        long bad = 0;
        for (long i = 0; i < t.numel(); i++) {
            if (!Float.isFinite(get(t, i))) {
                bad++;
            }
        }
        return bad;
    }

    // ---------------------------------------------------------------- reductions

    /** The mean over all but the batch dimension, per sample, in double (DiT's {@code mean_flat}). */
    static double[] meanFlat(double[] values, int batch) {
        int per = values.length / batch;
        double[] out = new double[batch];
        for (int b = 0; b < batch; b++) {
            double sum = 0;
            for (int i = 0; i < per; i++) {
                sum += values[b * per + i];
            }
            out[b] = sum / per;
        }
        return out;
    }

    // ---------------------------------------------------------------- checks (allocation-free when they pass)

    /** Checks that {@code t} has one entry per sample of a batch of {@code batch}. */
    static void checkTimesteps(String op, int[] t, int batch, int steps) {
        if (t.length != batch) {
            throw new ShapeMismatchException(op + ": " + t.length + " timesteps for a batch of " + batch);
        }
        for (int v : t) {
            if (v < 0 || v >= steps) {
                throw new IllegalArgumentException(op + ": timestep " + v + " is outside [0, " + steps + ")");
            }
        }
    }

    /** Checks that {@code x} is a batch [B, C, …] of F32. */
    static void checkBatch(String op, String what, Tensor x) {
        if (x.dtype() != DType.F32 || x.rank() < 2) {
            throw new ShapeMismatchException(op + ": " + what + " must be an f32 batch [B, C, ...], got "
                    + x.dtype().shortName() + " " + Shapes.toString(x.shape()));
        }
    }

    /** Checks that {@code out} is a contiguous F32 tensor of {@code like}'s shape, fit to be written by {@code op}. */
    static void checkDestination(String op, String what, Tensor out, Tensor like) {
        if (out.dtype() != DType.F32 || !out.isContiguous() || !out.sameShape(like)) {
            throw new ShapeMismatchException(op + ": " + what + " must be a contiguous f32 tensor of shape "
                    + Shapes.toString(like.shape()) + ", got " + out.dtype().shortName() + " "
                    + Shapes.toString(out.shape()) + (out.isContiguous() ? "" : " (strided)"));
        }
    }

    /** Checks that {@code t} is a contiguous F32 tensor, to be processed in place by {@code op}. */
    static void checkContiguousF32(String op, Tensor t) {
        if (t.dtype() != DType.F32 || !t.isContiguous()) {
            throw new ShapeMismatchException(
                    op + ": expected a contiguous f32 tensor, got " + t.dtype().shortName() + " "
                            + Shapes.toString(t.shape()) + (t.isContiguous() ? "" : " (strided)"));
        }
    }

    /** True when {@code a} and {@code b} have the same shape except dimension 0, which is {@code lead} in {@code a}. */
    static boolean sameTrailingShape(Tensor a, int lead, Tensor b) {
        if (a.rank() != b.rank() || a.size(0) != lead) {
            return false;
        }
        for (int d = 1; d < a.rank(); d++) {
            if (a.size(d) != b.size(d)) {
                return false;
            }
        }
        return true;
    }
}
