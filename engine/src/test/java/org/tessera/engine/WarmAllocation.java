package org.tessera.engine;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.management.ManagementFactory;
import java.lang.reflect.Method;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Heap bytes per call of warm code, measured on the calling thread, for the tests that say a hot
 * path allocates nothing once the JIT has compiled it.
 *
 * <p>Until C2 has compiled a Vector API kernel, its vectors are boxed: megabytes per call. How
 * long that takes depends on the JVM's history, not on our code. In a JVM that has run hundreds of
 * other tests, C2's queue can stay long enough that a kernel waits in tier 2 for over 30 s (CI saw
 * softmax at 12 bytes per element after 30 s, once in dozens of runs, where it is clean in 0.4 s
 * here); and in roughly one JVM in ten, C2 once compiled the attention softmax without inlining
 * {@code VectorExp.exp(FloatVector)}, boxing every vector across that call for the life of the
 * JVM. So a measurement that is not clean in this JVM is taken again in a fresh one. A regression in
 * our code allocates in every JVM, so a test that fails in two independent JVMs still catches it.
 */
public final class WarmAllocation {
    private static final com.sun.management.ThreadMXBean MX =
            (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

    /** How long one JVM gets to compile the code under test before the measurement counts. */
    private static final long ROUNDS_NANOS = 30_000_000_000L;

    private WarmAllocation() {}

    /**
     * Runs {@code op} in rounds of {@code calls} calls until a round allocates under {@code bound}
     * bytes per call, or 30 s pass; returns the best round's bytes per call.
     */
    public static double bestOfRounds(double bound, int calls, Runnable op) {
        double best = Double.POSITIVE_INFINITY;
        long deadline = System.nanoTime() + ROUNDS_NANOS;
        do {
            long before = MX.getCurrentThreadAllocatedBytes();
            for (int i = 0; i < calls; i++) {
                op.run();
            }
            best = Math.min(best, (MX.getCurrentThreadAllocatedBytes() - before) / (double) calls);
        } while (best >= bound && System.nanoTime() < deadline);
        return best;
    }

    /**
     * Asserts that the static no-argument method {@code owner.method()}, which returns bytes per
     * warm call, measures under {@code bound}: in this JVM, or else in a fresh one.
     */
    public static void assertUnder(double bound, Class<?> owner, String method, String what) throws Exception {
        double here = invoke(owner, method);
        if (here < bound) {
            return;
        }
        System.out.println(what + ": " + here + " bytes per call in this JVM; measuring in a fresh one");
        double fresh = inFreshJvm(owner, method);
        assertTrue(
                fresh < bound,
                what + " allocates " + fresh + " bytes per call after warm-up (" + here + " in the first JVM)");
    }

    private static double invoke(Class<?> owner, String method) throws Exception {
        Method m = owner.getDeclaredMethod(method);
        m.setAccessible(true);
        return (double) m.invoke(null);
    }

    /**
     * Calls {@code owner.method()} in a new JVM with the engine's flags, this JVM's {@code -XX:}
     * options and {@code -Dtessera.} properties (a run under {@code -XX:UseAVX=2} measures again
     * under it), and this class path.
     */
    static double inFreshJvm(Class<?> owner, String method) throws Exception {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(List.of("--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-Xss4m"));
        for (String arg : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (arg.startsWith("-XX:") || arg.startsWith("-Dtessera.")) {
                cmd.add(arg);
            }
        }
        cmd.addAll(List.of(
                "-cp", System.getProperty("java.class.path"), WarmAllocation.class.getName(), owner.getName(), method));
        // Output to a file, so that a JVM that hangs cannot block the read past the time limit.
        Path log = Files.createTempFile("warm-allocation", ".log");
        String out;
        try {
            Process p = new ProcessBuilder(cmd)
                    .redirectErrorStream(true)
                    .redirectOutput(log.toFile())
                    .start();
            boolean finished = p.waitFor(120, TimeUnit.SECONDS);
            if (!finished) {
                p.destroyForcibly().waitFor();
            }
            out = Files.readString(log, StandardCharsets.UTF_8);
            if (!finished) {
                throw new AssertionError("the second JVM did not finish in 120 s:\n" + out);
            }
        } finally {
            Files.deleteIfExists(log);
        }
        for (String line : out.lines().toList().reversed()) {
            if (line.startsWith("measured: ")) {
                return Double.parseDouble(line.substring("measured: ".length()));
            }
        }
        throw new AssertionError("the second JVM printed no measurement:\n" + out);
    }

    public static void main(String[] args) throws Exception {
        System.out.println("measured: " + invoke(Class.forName(args[0]), args[1]));
    }
}
