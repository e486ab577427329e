package org.tessera.engine.graph;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.tessera.engine.parallel.WorkerPool;
import org.tessera.engine.tensor.ShapeMismatchException;
import org.tessera.engine.tensor.Shapes;
import org.tessera.engine.tensor.Tensor;

/**
 * A prepared copy {@code dst ← src} between two views of one shape and dtype: the kernel behind
 * contiguous, expand (a stride-0 source) and concat (a sliced destination).
 *
 * <p>The copy walks rows of the last dimension: a row's start offsets come from its index by
 * div/mod over the outer dims (once per row, not per element), and a row whose two sides are both
 * unit-stride moves with one bulk {@link MemorySegment#copy}. Everything is computed in the
 * constructor, so {@link #run} allocates nothing.
 */
final class StridedCopy {
    /** Below this many elements the copy runs on the calling thread. */
    private static final long PARALLEL_THRESHOLD = 1 << 16;

    private final MemorySegment src;
    private final MemorySegment dst;
    private final int[] outer;
    private final long[] srcStrides;
    private final long[] dstStrides;
    private final long srcOffset;
    private final long dstOffset;
    private final int inner;
    private final long srcInner;
    private final long dstInner;
    private final long rows;
    private final int elementBytes;
    private final int tasks;
    private final WorkerPool pool;
    private final WorkerPool.Task task;

    StridedCopy(WorkerPool pool, Tensor source, Tensor destination) {
        if (!source.sameShape(destination) || source.dtype() != destination.dtype()) {
            throw new ShapeMismatchException("copy: source " + source.dtype().shortName()
                    + Shapes.toString(source.shape()) + " and destination "
                    + destination.dtype().shortName()
                    + Shapes.toString(destination.shape()) + " differ");
        }
        this.pool = pool;
        this.src = source.storage();
        this.dst = destination.storage();
        int[] shape = source.shape();
        int r = shape.length;
        this.inner = r == 0 ? 1 : shape[r - 1];
        this.outer = r == 0 ? new int[0] : java.util.Arrays.copyOf(shape, r - 1);
        this.srcStrides = r == 0 ? new long[0] : java.util.Arrays.copyOf(source.strides(), r - 1);
        this.dstStrides = r == 0 ? new long[0] : java.util.Arrays.copyOf(destination.strides(), r - 1);
        this.srcInner = r == 0 ? 1 : source.stride(-1);
        this.dstInner = r == 0 ? 1 : destination.stride(-1);
        this.srcOffset = source.offset();
        this.dstOffset = destination.offset();
        this.elementBytes = source.dtype().byteSize();
        this.rows = inner == 0 ? 0 : source.numel() / inner;
        long n = source.numel();
        this.tasks = n < PARALLEL_THRESHOLD ? 1 : (int) Math.min(rows, pool.threads() * 4L);
        this.task = this::copyTask;
    }

    /** Performs the copy. */
    void run() {
        if (rows == 0) {
            return;
        }
        if (tasks <= 1) {
            copyRows(0, rows);
        } else {
            pool.run(tasks, task);
        }
    }

    private void copyTask(int t) {
        copyRows(rows * t / tasks, rows * (t + 1) / tasks);
    }

    private void copyRows(long from, long to) {
        for (long row = from; row < to; row++) {
            // Element offsets of this row's first element on each side.
            long s = srcOffset;
            long d = dstOffset;
            long rest = row;
            for (int i = outer.length - 1; i >= 0; i--) {
                long idx = rest % outer[i];
                rest /= outer[i];
                s += idx * srcStrides[i];
                d += idx * dstStrides[i];
            }
            if (srcInner == 1 && dstInner == 1) {
                MemorySegment.copy(src, s * elementBytes, dst, d * elementBytes, (long) inner * elementBytes);
            } else {
                copyStrided(s, d);
            }
        }
    }

    private void copyStrided(long s, long d) {
        switch (elementBytes) {
            case 4 -> {
                ValueLayout.OfInt l = ValueLayout.JAVA_INT_UNALIGNED;
                for (int i = 0; i < inner; i++) {
                    dst.setAtIndex(l, d + i * dstInner, src.getAtIndex(l, s + i * srcInner));
                }
            }
            case 8 -> {
                ValueLayout.OfLong l = ValueLayout.JAVA_LONG_UNALIGNED;
                for (int i = 0; i < inner; i++) {
                    dst.setAtIndex(l, d + i * dstInner, src.getAtIndex(l, s + i * srcInner));
                }
            }
            case 2 -> {
                ValueLayout.OfShort l = ValueLayout.JAVA_SHORT_UNALIGNED;
                for (int i = 0; i < inner; i++) {
                    dst.setAtIndex(l, d + i * dstInner, src.getAtIndex(l, s + i * srcInner));
                }
            }
            default -> {
                for (int i = 0; i < inner; i++) {
                    MemorySegment.copy(
                            src,
                            (s + i * srcInner) * elementBytes,
                            dst,
                            (d + i * dstInner) * elementBytes,
                            elementBytes);
                }
            }
        }
    }
}
