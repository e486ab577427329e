package org.tessera.engine.graph;

import java.util.Map;
import org.junit.jupiter.api.Test;
import org.tessera.engine.WarmAllocation;
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
    /** Bytes per warm forward (see {@link WarmAllocation}). */
    static double measure() {
        try (WorkerPool pool = new WorkerPool(1)) {
            Backend cpu = Backends.cpu(pool, m -> {});
            Map<String, Tensor> inputs = SampleGraphs.ditLikeInputs();
            try (Execution e = Planner.compile(SampleGraphs.ditLike(), cpu).newExecution()) {
                return WarmAllocation.bestOfRounds(64, 20, () -> e.run(inputs));
            }
        }
    }

    @Test
    void aWarmForwardAllocatesAlmostNothing() throws Exception {
        WarmAllocation.assertUnder(64, ExecutionAllocationTest.class, "measure", "a warm forward");
    }
}
