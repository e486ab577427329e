package org.tessera.engine.cpu;

import org.tessera.engine.parallel.WorkerPool;

/**
 * Splits a memory-bound loop over a {@link WorkerPool} when it is big enough to pay for the
 * hand-off, and runs it on the calling thread otherwise.
 *
 * <p>The static helpers take a lambda, which is fine for ops that run a few times per sampler
 * step. The per-step hot ops (elementwise, norms) extend {@link RangeJob} instead: one job object
 * per calling thread holds the operands in fields and is itself the pool's task, so a call
 * allocates nothing, parallel or not.
 */
final class ParallelLoops {
    /** Below this many elements a job stays on the calling thread (waking workers costs more). */
    static final long PARALLEL_MIN = 1 << 15;
    /** Range starts are rounded down to this many elements, so only the last range has a vector tail. */
    private static final long ALIGN = 64;

    /** A half-open range {@code [from, to)} of rows or elements. */
    @FunctionalInterface
    interface Range {
        void run(long from, long to);
    }

    private ParallelLoops() {}

    /** Runs {@code body} over rows {@code [0, rows)}, split into row ranges when rows·rowLength is large. */
    static void rows(WorkerPool pool, long rows, long rowLength, Range body) {
        if (rows <= 0) {
            return;
        }
        if (rows == 1 || pool.threads() == 1 || rows * rowLength <= PARALLEL_MIN) {
            body.run(0, rows);
            return;
        }
        int tasks = (int) Math.min(rows, 4L * pool.threads());
        pool.run(tasks, t -> body.run(rows * t / tasks, rows * (t + 1) / tasks));
    }

    /** Runs {@code body} over elements {@code [0, total)}, split into aligned ranges when large. */
    static void elements(WorkerPool pool, long total, Range body) {
        if (total <= 0) {
            return;
        }
        if (pool.threads() == 1 || total <= PARALLEL_MIN) {
            body.run(0, total);
            return;
        }
        int tasks = (int) Math.min(4L * pool.threads(), total / (PARALLEL_MIN / 4));
        pool.run(tasks, t -> body.run(boundary(t, tasks, total), boundary(t + 1, tasks, total)));
    }

    /**
     * A reusable loop body: subclasses keep their operands in fields and implement
     * {@link #range}. The split is the same as {@link #rows} and {@link #elements}.
     */
    abstract static class RangeJob implements WorkerPool.Task {
        private long total;
        private int tasks;
        private boolean aligned;

        /** Runs the body over {@code [from, to)} (rows or elements, as the caller chose). */
        abstract void range(long from, long to);

        /** Runs over rows {@code [0, rows)}, split into row ranges when rows·rowLength is large. */
        final void forRows(WorkerPool pool, long rows, long rowLength) {
            if (rows <= 0) {
                return;
            }
            if (rows == 1 || pool.threads() == 1 || rows * rowLength <= PARALLEL_MIN) {
                range(0, rows);
                return;
            }
            total = rows;
            tasks = (int) Math.min(rows, 4L * pool.threads());
            aligned = false;
            pool.run(tasks, this);
        }

        /** Runs over elements {@code [0, total)}, split into aligned ranges when large. */
        final void forElements(WorkerPool pool, long count) {
            if (count <= 0) {
                return;
            }
            if (pool.threads() == 1 || count <= PARALLEL_MIN) {
                range(0, count);
                return;
            }
            total = count;
            tasks = (int) Math.min(4L * pool.threads(), count / (PARALLEL_MIN / 4));
            aligned = true;
            pool.run(tasks, this);
        }

        @Override
        public final void run(int t) {
            if (aligned) {
                range(boundary(t, tasks, total), boundary(t + 1, tasks, total));
            } else {
                range(total * t / tasks, total * (t + 1) / tasks);
            }
        }
    }

    private static long boundary(int t, int tasks, long total) {
        return t == tasks ? total : total * t / tasks / ALIGN * ALIGN;
    }
}
