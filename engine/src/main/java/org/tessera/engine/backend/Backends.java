package org.tessera.engine.backend;

import java.lang.reflect.InvocationTargetException;
import java.util.Locale;
import java.util.function.Consumer;
import org.tessera.engine.parallel.WorkerPool;
import org.tessera.engine.reference.ScalarBackend;

/**
 * Chooses the CPU backend at start-up, the jvector way: the SIMD kernels when the Vector API is
 * available, else the scalar reference kernels with one warning line that names the remedy.
 *
 * <p>The choice can be forced with the system property {@code tessera.cpu} or the environment
 * variable {@code TESSERA_CPU}: {@code auto} (default), {@code vector} or {@code scalar}. A forced
 * {@code vector} that cannot be honoured is an error, not a silent fallback.
 */
public final class Backends {
    private static final String VECTOR_FACTORY = "org.tessera.engine.cpu.VectorKernels";

    private Backends() {}

    /** The CPU backend on a new pool of {@code threads} threads; warnings go to stderr. */
    public static Backend cpu(int threads) {
        return cpu(new WorkerPool(threads), System.err::println);
    }

    /** The CPU backend on {@code pool}; a fallback warning (at most one line) goes to {@code warn}. */
    public static Backend cpu(WorkerPool pool, Consumer<String> warn) {
        String choice = System.getProperty("tessera.cpu", System.getenv().getOrDefault("TESSERA_CPU", "auto"))
                .trim()
                .toLowerCase(Locale.ROOT);
        return switch (choice) {
            case "scalar" -> ScalarBackend.create(pool);
            case "vector" -> {
                String why = vectorUnavailableReason();
                if (why != null) {
                    throw new IllegalStateException("tessera.cpu=vector was requested but " + why);
                }
                yield vector(pool);
            }
            case "auto" -> {
                String why = vectorUnavailableReason();
                if (why == null) {
                    yield vector(pool);
                }
                warn.accept("tessera: warning: " + why + "; using the scalar CPU kernels (much slower)."
                        + " Run java with --add-modules jdk.incubator.vector.");
                yield ScalarBackend.create(pool);
            }
            default ->
                throw new IllegalArgumentException("tessera.cpu must be auto, vector or scalar, got '" + choice + "'");
        };
    }

    /** What {@link #cpu} would choose here, in words, e.g. "vector (512-bit vectors, 32 registers, 12×32 GEMM tile, K blocks of 256)". */
    public static String describeCpu() {
        String why = vectorUnavailableReason();
        if (why != null) {
            return "scalar fallback: " + why;
        }
        try {
            return "vector ("
                    + Class.forName(VECTOR_FACTORY).getMethod("describe").invoke(null) + ")";
        } catch (InvocationTargetException e) {
            return "vector, not starting: " + e.getCause().getMessage();
        } catch (ReflectiveOperationException | LinkageError e) {
            return "scalar fallback: the SIMD backend failed to load: " + e;
        }
    }

    /** Null when the SIMD kernels can run here, else why not. */
    public static String vectorUnavailableReason() {
        if (ModuleLayer.boot().findModule("jdk.incubator.vector").isEmpty()) {
            return "the Vector API module jdk.incubator.vector is not loaded";
        }
        return null;
    }

    private static Backend vector(WorkerPool pool) {
        try {
            // Reflective so that this class loads (and can fall back) when the module is absent.
            return (Backend) Class.forName(VECTOR_FACTORY)
                    .getMethod("backend", WorkerPool.class)
                    .invoke(null, pool);
        } catch (InvocationTargetException e) {
            if (e.getCause() instanceof IllegalArgumentException bad) { // a forced setting it cannot honour
                throw new IllegalArgumentException("the SIMD CPU backend: " + bad.getMessage(), bad);
            }
            throw new IllegalStateException("the SIMD CPU backend failed to start: " + e.getCause(), e.getCause());
        } catch (ReflectiveOperationException | LinkageError e) {
            throw new IllegalStateException("the SIMD CPU backend failed to load: " + e, e);
        }
    }
}
