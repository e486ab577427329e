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
 * quantiles, the discretised likelihood): read a tensor into a float array, write one back,
 * and allocate batch-shaped buffers.
 */
final class Buffers {
    private Buffers() {}

    /** A fresh zeroed F32 tensor of {@code shape}, freed by the garbage collector. */
    static Tensor zeros(int... shape) {
        return Tensor.zeros(Arena.ofAuto(), DType.F32, shape);
    }

    /** All elements in row-major order. */
    static float[] read(Tensor t) {
        return t.toFloatArray();
    }

    /** Writes {@code values} into a contiguous F32 tensor. */
    static void write(Tensor t, float[] values) {
        if (t.dtype() != DType.F32 || !t.isContiguous() || t.numel() != values.length) {
            throw new ShapeMismatchException("diffusion: expected a contiguous f32 tensor of " + values.length
                    + " elements, got " + t);
        }
        MemorySegment.copy(values, 0, t.storage(), ValueLayout.JAVA_FLOAT_UNALIGNED, t.byteOffset(), values.length);
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
}
