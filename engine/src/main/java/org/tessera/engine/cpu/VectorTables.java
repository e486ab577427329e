package org.tessera.engine.cpu;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.tessera.engine.backend.OpChecks;
import org.tessera.engine.backend.TableOps;
import org.tessera.engine.parallel.WorkerPool;
import org.tessera.engine.tensor.Tensor;

/**
 * The sinusoidal tables. They are small and built once per step (timesteps) or once per model
 * (positions), so they use double trigonometry rounded to float, which matches the reference
 * exactly; the speed-up is in sharing work: frequencies are computed once per call, and the
 * 2-D table is assembled from two 1-D tables of (gridW + gridH) rows instead of evaluating
 * sin and cos for every one of its gridH·gridW rows.
 */
final class VectorTables implements TableOps {
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;

    /** Below this many output elements a table is filled on the calling thread, with no task object. */
    private static final long INLINE = 1 << 14;

    private final WorkerPool pool;
    /** The last timestep frequencies, kept: every sampler step asks for the same ones. */
    private volatile Frequencies timestepFrequencies = new Frequencies(0, 0, new double[0]);

    private record Frequencies(double base, int half, double[] f) {}

    VectorTables(WorkerPool pool) {
        this.pool = pool;
    }

    @Override
    public void timestepEmbedding(Tensor t, double maxPeriod, Tensor out) {
        OpChecks.rank("timestepEmbedding", "t", t, 1);
        OpChecks.table("timestepEmbedding", out, t.size(0));
        int dim = out.size(1);
        int half = dim / 2;
        Frequencies cached = timestepFrequencies;
        if (cached.base() != maxPeriod || cached.half() != half) {
            cached = new Frequencies(maxPeriod, half, frequencies(maxPeriod, half));
            timestepFrequencies = cached;
        }
        double[] freq = cached.f();
        MemorySegment o = out.storage();
        long base = out.byteOffset();
        int rows = t.size(0);
        if ((long) rows * dim < INLINE) {
            // A sampler step's few timesteps: no task, no copy of t, nothing allocated.
            timestepRows(t, freq, o, base, dim, 0, rows);
            return;
        }
        ParallelLoops.rows(pool, rows, dim, (from, to) -> timestepRows(t, freq, o, base, dim, (int) from, (int) to));
    }

    /** Rows [from, to) of the timestep table: [cos(t·f), sin(t·f)], then a zero column if dim is odd. */
    private static void timestepRows(Tensor t, double[] freq, MemorySegment o, long base, int dim, int from, int to) {
        int half = freq.length;
        for (int b = from; b < to; b++) {
            long row = base + 4L * b * dim;
            double tb = t.doubleAt(b);
            for (int i = 0; i < half; i++) {
                double arg = tb * freq[i];
                o.set(F, row + 4L * i, (float) Math.cos(arg));
                o.set(F, row + 4L * (half + i), (float) Math.sin(arg));
            }
            if (dim % 2 != 0) {
                o.set(F, row + 4L * (dim - 1), 0f);
            }
        }
    }

    @Override
    public void sinCos1d(Tensor positions, Tensor out) {
        OpChecks.sinCos1d(positions, out);
        int dim = out.size(1);
        double[] omega = frequencies(10000, dim / 2);
        double[] p = positions.toDoubleArray();
        MemorySegment o = out.storage();
        long base = out.byteOffset();
        ParallelLoops.rows(pool, p.length, dim, (from, to) -> {
            for (int l = (int) from; l < to; l++) {
                sinCosRow(o, base + 4L * l * dim, p[l], omega);
            }
        });
    }

    @Override
    public void sinCos2d(int gridH, int gridW, Tensor out) {
        OpChecks.sinCos2d(gridH, gridW, out);
        int dim = out.size(1);
        int halfDim = dim / 2;
        double[] omega = frequencies(10000, halfDim / 2);
        // One 1-D row per grid index (max of H and W), then each token copies two of them.
        int indices = Math.max(gridH, gridW);
        MemorySegment table = MemorySegment.ofArray(new float[Math.max(1, indices * halfDim)]);
        for (int i = 0; i < indices; i++) {
            sinCosRow(table, 4L * i * halfDim, i, omega);
        }
        MemorySegment o = out.storage();
        long base = out.byteOffset();
        long rowBytes = 4L * halfDim;
        ParallelLoops.rows(pool, (long) gridH * gridW, dim, (from, to) -> {
            for (long tok = from; tok < to; tok++) {
                long row = base + tok * 2 * rowBytes;
                MemorySegment.copy(table, tok % gridW * rowBytes, o, row, rowBytes); // column index first
                MemorySegment.copy(table, tok / gridW * rowBytes, o, row + rowBytes, rowBytes);
            }
        });
    }

    /** fᵢ = base^(−i/half) for i in [0, half), as the references compute them. */
    private static double[] frequencies(double base, int half) {
        double[] f = new double[half];
        for (int i = 0; i < half; i++) {
            f[i] = Math.pow(base, -(double) i / half);
        }
        return f;
    }

    /** [sin(p·ω), cos(p·ω)] at byte offset {@code off}. */
    private static void sinCosRow(MemorySegment o, long off, double pos, double[] omega) {
        int half = omega.length;
        for (int i = 0; i < half; i++) {
            double arg = pos * omega[i];
            o.set(F, off + 4L * i, (float) Math.sin(arg));
            o.set(F, off + 4L * (half + i), (float) Math.cos(arg));
        }
    }
}
