package org.tessera.engine.parallel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicIntegerArray;
import org.junit.jupiter.api.Test;

class WorkerPoolTest {

    @Test
    void everyIndexRunsExactlyOnceAcrossManyJobs() {
        try (WorkerPool pool = new WorkerPool(4)) {
            for (int job = 0; job < 20_000; job++) {
                int n = 1 + job % 37;
                AtomicIntegerArray hits = new AtomicIntegerArray(n);
                pool.run(n, hits::incrementAndGet);
                for (int i = 0; i < n; i++) {
                    assertEquals(1, hits.get(i), "job " + job + " index " + i);
                }
            }
        }
    }

    @Test
    void exceptionsReachTheCaller() {
        try (WorkerPool pool = new WorkerPool(3)) {
            IllegalStateException e = assertThrows(
                    IllegalStateException.class,
                    () -> pool.run(10, i -> {
                        if (i == 7) {
                            throw new IllegalStateException("task 7");
                        }
                    }));
            assertEquals("task 7", e.getMessage());
            AtomicIntegerArray hits = new AtomicIntegerArray(5);
            pool.run(5, hits::incrementAndGet); // still usable afterwards
            assertEquals(1, hits.get(4));
        }
    }

    @Test
    void nestedRunsExecuteInline() {
        try (WorkerPool pool = new WorkerPool(3)) {
            AtomicIntegerArray hits = new AtomicIntegerArray(8 * 5);
            pool.run(8, outer -> pool.run(5, inner -> hits.incrementAndGet(outer * 5 + inner)));
            for (int i = 0; i < 40; i++) {
                assertEquals(1, hits.get(i), "pair " + i);
            }
        }
    }

    @Test
    void concurrentCallersEachGetAllTheirTasks() throws Exception {
        try (WorkerPool pool = new WorkerPool(3)) {
            ExecutorService callers = Executors.newFixedThreadPool(4);
            try {
                Future<?>[] fs = new Future<?>[4];
                for (int c = 0; c < fs.length; c++) {
                    fs[c] = callers.submit(() -> {
                        for (int job = 0; job < 300; job++) {
                            AtomicIntegerArray hits = new AtomicIntegerArray(16);
                            pool.run(16, hits::incrementAndGet);
                            for (int i = 0; i < 16; i++) {
                                if (hits.get(i) != 1) {
                                    throw new AssertionError("index " + i + " ran " + hits.get(i) + " times");
                                }
                            }
                        }
                        return null;
                    });
                }
                for (Future<?> f : fs) {
                    f.get();
                }
            } finally {
                callers.shutdownNow();
            }
        }
    }
}
