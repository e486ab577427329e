package org.tessera.engine.parallel;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A dedicated pool of platform threads for data-parallel kernels.
 *
 * <p>{@link #run(int, Task)} splits work into {@code count} independent tasks that the calling
 * thread and the workers claim from a shared ticket until none is left. It allocates nothing
 * per call (the hot GEMM path runs through it thousands of times per sampler step), and
 * workers spin briefly before parking, so back-to-back kernels do not pay a wake-up each.
 *
 * <p>One job runs at a time. A second thread that calls {@code run} while the pool is busy, or a
 * task that calls {@code run} again (a nested parallel loop), runs its tasks on its own thread
 * instead of waiting, so concurrent pipelines never deadlock and never interleave tasks.
 *
 * <p>The ticket packs the job's generation into its high 32 bits and the next task index into
 * the low 32, so a worker that wakes late can never claim an index of a newer job while still
 * holding the older job's task.
 */
public final class WorkerPool implements AutoCloseable {

    /** One unit of work; {@code index} is in {@code [0, count)}. */
    @FunctionalInterface
    public interface Task {
        void run(int index);
    }

    private static final int SPIN_ITERATIONS = 20_000;

    private final Thread[] workers;
    private final ReentrantLock lock = new ReentrantLock();
    private final AtomicLong ticket = new AtomicLong();
    private final AtomicInteger completed = new AtomicInteger();
    private volatile int generation;
    private volatile Task task;
    private volatile int count;
    private volatile Throwable failure;
    private volatile boolean closed;

    /** A pool whose jobs run on {@code threads} threads in total (the caller included). */
    public WorkerPool(int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("thread count must be at least 1, got " + threads);
        }
        workers = new Thread[threads - 1];
        for (int i = 0; i < workers.length; i++) {
            Thread t = new Thread(this::workerLoop, "tessera-worker-" + (i + 1));
            t.setDaemon(true);
            workers[i] = t;
            t.start();
        }
    }

    /** Threads a job runs on, the caller included. */
    public int threads() {
        return workers.length + 1;
    }

    /**
     * Runs {@code task} for every index in {@code [0, count)} and returns when all are done. An
     * exception thrown by a task is rethrown here after the other tasks finish.
     */
    public void run(int count, Task task) {
        if (count <= 0) {
            return;
        }
        // Inline when there is nothing to share, when another job holds the pool, and when a task
        // of this pool's own job calls run again (the lock is reentrant, the job state is not).
        if (count == 1 || workers.length == 0 || closed || lock.isHeldByCurrentThread() || !lock.tryLock()) {
            for (int i = 0; i < count; i++) {
                task.run(i);
            }
            return;
        }
        try {
            // Move the ticket to the new generation before touching task and count: a worker still
            // holding the previous generation number then fails its claim instead of pairing an
            // old-generation ticket with the new task (which ran an index twice).
            int gen = generation + 1;
            ticket.set((long) gen << 32);
            failure = null;
            this.task = task;
            this.count = count;
            completed.set(0);
            generation = gen; // publishes task and count to the workers
            for (Thread w : workers) {
                LockSupport.unpark(w);
            }
            work(gen, task, count);
            while (completed.get() < count) {
                Thread.onSpinWait();
            }
            this.task = null;
            Throwable f = failure;
            if (f != null) {
                failure = null;
                if (f instanceof RuntimeException re) {
                    throw re;
                }
                if (f instanceof Error e) {
                    throw e;
                }
                throw new IllegalStateException(f);
            }
        } finally {
            lock.unlock();
        }
    }

    /** Claims and runs tasks of job {@code gen} until its tickets are gone. */
    private void work(int gen, Task job, int n) {
        while (true) {
            long t = ticket.get();
            int index = (int) t;
            if ((int) (t >>> 32) != gen || index >= n) {
                return;
            }
            if (!ticket.compareAndSet(t, t + 1)) {
                continue;
            }
            try {
                job.run(index);
            } catch (Throwable e) {
                if (failure == null) {
                    failure = e;
                }
            } finally {
                completed.incrementAndGet();
            }
        }
    }

    private void workerLoop() {
        int seen = 0;
        while (!closed) {
            int gen = generation;
            if (gen == seen) {
                int spins = 0;
                while ((gen = generation) == seen && !closed) {
                    if (++spins < SPIN_ITERATIONS) {
                        Thread.onSpinWait();
                    } else {
                        LockSupport.park(this);
                    }
                }
                if (closed) {
                    return;
                }
            }
            seen = gen;
            Task job = task;
            int n = count;
            if (job != null) {
                work(gen, job, n);
            }
        }
    }

    /** Stops the workers; later jobs run on the calling thread. */
    @Override
    public void close() {
        closed = true;
        for (Thread w : workers) {
            LockSupport.unpark(w);
        }
    }
}
