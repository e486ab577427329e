package org.tessera.engine.cpu;

import org.tessera.engine.parallel.WorkerPool;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Tensor;

/**
 * A pointwise loop over a contiguous output and up to three inputs broadcast to its shape
 * (NumPy rules, right-aligned), walked without allocating: no expanded views, no stride arrays.
 *
 * <p>The output is cut into rows of its last dimension D. An input, seen broadcast, reads each
 * row at a row offset computed from its own strides (0 along the dims it broadcasts over) and
 * with one inner stride: 1 for a contiguous row such as a bias [D] or an adaLN row [B, 1, D],
 * 0 for one value per row (a [B, T, 1] column or a scalar), anything else for a gather. When
 * every input is either contiguous with the output's element count or a single value, the
 * whole output is one flat row instead, the case of {@code x + y}, {@code axpby} and
 * {@code x·c}. {@link #range} hands {@link #piece} runs of row elements with their offsets;
 * the subclass's row kernel takes the vector path for inner strides 0 and 1.
 *
 * <p>One instance per calling thread, rebound per call (see {@link ParallelLoops.RangeJob}).
 */
abstract class BroadcastLoop extends ParallelLoops.RangeJob {
    /** The longest piece handed to {@link #piece}, so that lengths fit an int. */
    private static final long MAX_PIECE = 1 << 30;

    private Tensor out;
    private Tensor a;
    private Tensor b;
    private Tensor c;
    private long total;
    private long rowLen;
    private boolean flat;
    /** Inner strides of inputs a, b, c (0 for absent inputs). */
    long sa;

    long sb;
    long sc;

    /** The row kernel over a piece of {@code n} elements, given the element offsets of out and of a, b, c. */
    abstract void piece(long outOffset, long aOffset, long bOffset, long cOffset, int n);

    /** Binds the operands; a, b, c (b and c may be null) already checked to broadcast to out's shape. */
    final void bind(Tensor out, Tensor a, Tensor b, Tensor c) {
        this.out = out;
        this.a = a;
        this.b = b;
        this.c = c;
        total = out.numel();
        flat = isFlat(a, total) && isFlat(b, total) && isFlat(c, total);
        rowLen = flat ? Math.max(total, 1) : lastDim(out);
        sa = flat ? flatStride(a) : innerStride(a, rowLen);
        sb = flat ? flatStride(b) : innerStride(b, rowLen);
        sc = flat ? flatStride(c) : innerStride(c, rowLen);
    }

    /** Runs the bound loop on {@code pool} and drops the operands. */
    final void runOn(WorkerPool pool) {
        try {
            forElements(pool, total);
        } finally {
            out = a = b = c = null;
        }
    }

    @Override
    final void range(long from, long to) {
        long i = from;
        while (i < to) {
            long r = i / rowLen;
            long j = i - r * rowLen;
            int n = (int) Math.min(Math.min(rowLen - j, to - i), MAX_PIECE);
            piece(out.offset() + i, offset(a, r) + j * sa, offset(b, r) + j * sb, offset(c, r) + j * sc, n);
            i += n;
        }
    }

    private long offset(Tensor t, long row) {
        if (t == null) {
            return 0;
        }
        return flat ? t.offset() : rowOffset(t, out, row);
    }

    // ---------------------------------------------------------------- allocation-free layout queries

    /** Size of the last dim, 1 for a rank-0 tensor. */
    static int lastDim(Tensor t) {
        return t.rank() == 0 ? 1 : t.size(-1);
    }

    /** Absent, a single value, or contiguous with the output's element count (then it reads one for one). */
    private static boolean isFlat(Tensor t, long total) {
        return t == null || t.numel() == 1 || t.numel() == total && t.isContiguous();
    }

    private static long flatStride(Tensor t) {
        return t == null || t.numel() == 1 ? 0 : 1;
    }

    /** Stride along out's last dim (of length d) of {@code t} broadcast to out: 0 where t has size 1 there. */
    static long innerStride(Tensor t, long d) {
        if (t == null || t.rank() == 0 || t.size(-1) == 1 || d == 1) {
            return 0;
        }
        return t.stride(-1);
    }

    /**
     * Storage offset (in elements) of the first element of row {@code row} of the contiguous
     * {@code out}, rows being its last dimension, as {@code t} broadcast to out's shape sees it.
     */
    static long rowOffset(Tensor t, Tensor out, long row) {
        long off = t.offset();
        int rank = out.rank();
        int lead = rank - t.rank();
        for (int d = rank - 2; d >= 0 && row > 0; d--) {
            int n = out.size(d);
            long idx = row % n;
            row /= n;
            int td = d - lead;
            if (td >= 0 && t.size(td) != 1) {
                off += idx * t.stride(td);
            }
        }
        return off;
    }

    /** True when {@code t} is f32 and broadcasts to out's shape (each right-aligned dim equal or 1). */
    static boolean broadcastsTo(Tensor t, Tensor out) {
        if (t.dtype() != DType.F32 || t.rank() > out.rank()) {
            return false;
        }
        int lead = out.rank() - t.rank();
        for (int d = 0; d < t.rank(); d++) {
            int s = t.size(d);
            if (s != 1 && s != out.size(d + lead)) {
                return false;
            }
        }
        return true;
    }

    /** True when out's shape is exactly the broadcast of a's and b's shapes. */
    static boolean isBroadcastOf(Tensor out, Tensor a, Tensor b) {
        int rank = out.rank();
        if (Math.max(a.rank(), b.rank()) != rank) {
            return false;
        }
        for (int d = 0; d < rank; d++) {
            int da = d < rank - a.rank() ? 1 : a.size(d - (rank - a.rank()));
            int db = d < rank - b.rank() ? 1 : b.size(d - (rank - b.rank()));
            if (da != db && da != 1 && db != 1 || out.size(d) != (da == 1 ? db : da)) {
                return false;
            }
        }
        return true;
    }
}
