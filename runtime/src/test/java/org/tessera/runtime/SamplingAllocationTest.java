package org.tessera.runtime;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.management.ManagementFactory;
import java.util.Map;
import org.junit.jupiter.api.Test;
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

    @Test
    void aWarmStepAllocatesAlmostNothing() {
        for (String sampler : new String[] {"ddim(eta = 0.5)", "ddpm()", "dpmpp_2m()"}) {
            try (Pipeline p = Tessera.compile(
                    RepoFiles.sample("dit-tiny-sample.tess"),
                    CompileOptions.defaults()
                            .withThreads(1)
                            .withDevice("cpu")
                            .withOverrides(Map.of("sampler", sampler)))) {
                double best = Double.MAX_VALUE;
                long deadline = System.nanoTime() + 20_000_000_000L;
                while (best >= 1024 && System.nanoTime() < deadline) {
                    for (int i = 0; i < 5; i++) { // warm: both step counts' plans exist, the JIT has run
                        run(p, 4);
                        run(p, 12);
                    }
                    best = Math.min(best, (run(p, 12) - run(p, 4)) / 8.0);
                }
                assertTrue(best < 1024, sampler + " allocates " + best + " bytes per step after warm-up");
            }
        }
    }
}
