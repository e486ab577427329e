package org.tessera.engine.backend;

import org.tessera.engine.parallel.WorkerPool;

/**
 * The op set the graph lowers to, one interface per op family so that no implementation grows
 * into a god class.
 *
 * @param name short name for messages and benchmarks ({@code vector}, {@code scalar}, …)
 * @param pool the threads this backend's kernels run on
 */
public record Backend(
        String name,
        WorkerPool pool,
        GemmOps gemm,
        AttentionOps attention,
        NormOps norms,
        ElementwiseOps elementwise,
        TableOps tables,
        ConvOps conv) {}
