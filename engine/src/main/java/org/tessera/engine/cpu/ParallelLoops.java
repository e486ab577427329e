package org.tessera.engine.cpu;

import org.tessera.engine.parallel.WorkerPool;

/**
 * Splits a memory-bound loop over a {@link WorkerPool} when it is big enough to pay for the
 * hand-off, and runs it on the calling thread otherwise.
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

    private static long boundary(int t, int tasks, long total) {
        return t == tasks ? total : total * t / tasks / ALIGN * ALIGN;
    }
}
