package org.tessera.engine.reference;

import org.tessera.engine.backend.Backend;
import org.tessera.engine.parallel.WorkerPool;

/** The plain reference kernels as a {@link Backend}: the oracle in tests, and the fallback. */
public final class ScalarBackend {
    private ScalarBackend() {}

    public static Backend create(WorkerPool pool) {
        ScalarGemm gemm = new ScalarGemm();
        return new Backend(
                "scalar",
                pool,
                gemm,
                new ScalarAttention(),
                new ScalarNorms(),
                new ScalarElementwise(),
                new ScalarTables(),
                new ScalarConv(),
                new ScalarBackward());
    }
}
