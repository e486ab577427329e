package org.tessera.engine.graph;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.management.ManagementFactory;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.tessera.engine.SecondJvm;
import org.tessera.engine.backend.Backend;
import org.tessera.engine.backend.Backends;
import org.tessera.engine.parallel.WorkerPool;
import org.tessera.engine.tensor.Tensor;

/**
 * A whole forward pass through a compiled plan allocates nothing on the heap once warm: the
 * DiT-like graph of {@link DeviceExecutionTest} (patch embedding, gathers, linears with
 * epilogues, adaLN, segment-masked attention, copies, concat) on one thread, so every byte is
 * the measured thread's.
 */
class ExecutionAllocationTest {
    private static final com.sun.management.ThreadMXBean MX =
            (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

    /** Bytes per warm forward: the best of rounds until one is clean or 30 s pass (small shapes, short calls). */
    static double measure() {
        try (WorkerPool pool = new WorkerPool(1)) {
            Backend cpu = Backends.cpu(pool, m -> {});
            Map<String, Tensor> inputs = SampleGraphs.ditLikeInputs();
            try (Execution e = Planner.compile(SampleGraphs.ditLike(), cpu).newExecution()) {
                double best = Double.POSITIVE_INFINITY;
                long deadline = System.nanoTime() + 30_000_000_000L;
                while (best >= 64 && System.nanoTime() < deadline) {
                    long before = MX.getCurrentThreadAllocatedBytes();
                    for (int i = 0; i < 20; i++) {
                        e.run(inputs);
                    }
                    best = Math.min(best, (MX.getCurrentThreadAllocatedBytes() - before) / 20.0);
                }
                return best;
            }
        }
    }

    @Test
    void aWarmForwardAllocatesAlmostNothing() throws Exception {
        double best = measure();
        System.out.println("forward allocates " + best + " bytes per run after warm-up");
        if (best >= 64) {
            System.out.println("measuring in a fresh JVM (see SecondJvm)");
            best = SecondJvm.measure(ExecutionAllocationTest.class, "measure");
            System.out.println("fresh JVM: forward allocates " + best + " bytes per run");
        }
        assertTrue(best < 64, "a warm forward allocates " + best + " bytes per run");
    }
}
