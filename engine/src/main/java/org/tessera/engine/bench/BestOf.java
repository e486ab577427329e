package org.tessera.engine.bench;

/**
 * The timing loop of the kernel benchmarks: warm up until the JIT has compiled the kernels, then
 * time rounds of ~50 ms and keep the best round (the usual convention for kernel peaks).
 */
final class BestOf {
    private BestOf() {}

    /** Seconds per call of the best round after {@code warmSeconds} of warm-up and {@code minSeconds} of rounds. */
    static double secondsPerCall(Runnable call, double warmSeconds, double minSeconds) {
        return secondsPerCall(call, warmSeconds, minSeconds, 0.05);
    }

    /** The same with rounds of about {@code roundSeconds} each. */
    static double secondsPerCall(Runnable call, double warmSeconds, double minSeconds, double roundSeconds) {
        long warmEnd = System.nanoTime() + (long) (warmSeconds * 1e9);
        for (int i = 0; i < 3 || System.nanoTime() < warmEnd; i++) {
            call.run();
        }
        long t0 = System.nanoTime();
        call.run();
        double estimate = Math.max(1e-6, (System.nanoTime() - t0) / 1e9);
        int perRound = Math.max(1, (int) (roundSeconds / estimate));
        double best = Double.MAX_VALUE;
        long end = System.nanoTime() + (long) (minSeconds * 1e9);
        do {
            long start = System.nanoTime();
            for (int i = 0; i < perRound; i++) {
                call.run();
            }
            best = Math.min(best, (System.nanoTime() - start) / 1e9 / perRound);
        } while (System.nanoTime() < end);
        return best;
    }
}
