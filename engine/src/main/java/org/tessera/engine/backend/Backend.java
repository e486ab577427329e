package org.tessera.engine.backend;

import org.tessera.engine.parallel.WorkerPool;

/**
 * The op set the graph lowers to, one interface per op family so that no implementation grows
 * into a god class.
 *
 * @param name short name for messages and benchmarks ({@code vector}, {@code scalar}, …)
 * @param pool the threads this backend's kernels run on
 * @param backward the backward pass's kernels ({@link BackwardOps#none} where there are none yet)
 * @param memory where its tensors live and how data moves there
 */
public record Backend(
        String name,
        WorkerPool pool,
        GemmOps gemm,
        AttentionOps attention,
        NormOps norms,
        ElementwiseOps elementwise,
        TableOps tables,
        ConvOps conv,
        BackwardOps backward,
        MemoryOps memory) {

    /** The backends of host memory (the CPU ones) take their defaults from this. */
    public Backend(
            String name,
            WorkerPool pool,
            GemmOps gemm,
            AttentionOps attention,
            NormOps norms,
            ElementwiseOps elementwise,
            TableOps tables,
            ConvOps conv,
            BackwardOps backward) {
        this(name, pool, gemm, attention, norms, elementwise, tables, conv, backward, HostMemory.INSTANCE);
    }

    /** True when the kernels run on host memory, so Java may read their tensors directly. */
    public boolean onHost() {
        return memory.device() == org.tessera.engine.tensor.Device.CPU;
    }
}
