package org.tessera.runtime;

import java.lang.management.ManagementFactory;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.tessera.engine.WarmAllocation;
import org.tessera.testing.RepoFiles;

/**
 * A warm sampling loop allocates (almost) nothing per step: the model's plan, the step plans of a
 * sampler written in the language and their buffers are all made once. Measured as the
 * difference between a 12-step and a 4-step run, so what a run allocates once (its result, its
 * labels) cancels; the best of several rounds, since the JIT may still be compiling.
 */
class SamplingAllocationTest {
    private static long allocated() {
        return ((com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean()).getCurrentThreadAllocatedBytes();
    }

    private static long run(Pipeline p, int steps) {
        long before = allocated();
        p.sample(SampleRequest.seed(1).withSteps(steps));
        return allocated() - before;
    }

    /**
     * Bytes per step of a warm sampling loop with {@code sampler}: the best of rounds until one is
     * under 1 KiB or 30 s pass.
     */
    private static double perStep(String sampler) {
        try (Pipeline p = Tessera.compile(
                RepoFiles.sample("dit-tiny-sample.tess"),
                CompileOptions.defaults().withThreads(1).withDevice("cpu").withOverrides(Map.of("sampler", sampler)))) {
            double best = Double.MAX_VALUE;
            long deadline = System.nanoTime() + 30_000_000_000L;
            while (best >= 1024 && System.nanoTime() < deadline) {
                for (int i = 0; i < 5; i++) { // warm: both step counts' plans exist, the JIT has run
                    run(p, 4);
                    run(p, 12);
                }
                best = Math.min(best, (run(p, 12) - run(p, 4)) / 8.0);
            }
            return best;
        }
    }

    static double ddim() {
        return perStep("ddim(eta = 0.5)");
    }

    static double ddpm() {
        return perStep("ddpm()");
    }

    static double dpmpp2m() {
        return perStep("dpmpp_2m()");
    }

    /** Not clean in this JVM: measured again in a fresh one (see {@link WarmAllocation}). */
    @Test
    void aWarmStepAllocatesAlmostNothing() throws Exception {
        WarmAllocation.assertUnder(1024, SamplingAllocationTest.class, "ddim", "a DDIM step");
        WarmAllocation.assertUnder(1024, SamplingAllocationTest.class, "ddpm", "a DDPM step");
        WarmAllocation.assertUnder(1024, SamplingAllocationTest.class, "dpmpp2m", "a DPM-Solver++(2M) step");
    }
}
