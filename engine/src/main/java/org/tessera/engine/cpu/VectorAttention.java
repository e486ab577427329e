package org.tessera.engine.cpu;

import org.tessera.engine.backend.AttentionMask;
import org.tessera.engine.backend.AttentionOps;
import org.tessera.engine.backend.OpChecks;
import org.tessera.engine.parallel.WorkerPool;
import org.tessera.engine.tensor.Tensor;

/**
 * Fused scaled-dot-product attention on a {@link WorkerPool}, flash-attention style: the
 * Nq×Nk logits are computed, masked, normalised and consumed one key block at a time and are
 * never materialised. See {@link AttentionJob} for the work split and {@link AttentionPanel}
 * for the kernel.
 */
final class VectorAttention implements AttentionOps {
    private final WorkerPool pool;
    /** One reusable job (and its packing buffer) per calling thread. */
    private final ThreadLocal<AttentionJob> jobs = ThreadLocal.withInitial(AttentionJob::new);

    VectorAttention(WorkerPool pool) {
        this.pool = pool;
    }

    @Override
    public void attention(Tensor q, Tensor k, Tensor v, Tensor out, AttentionMask mask, float scale) {
        OpChecks.attention(q, k, v, out);
        OpChecks.mask(mask, q.size(0), q.size(1), q.size(2), k.size(2));
        AttentionJob job = jobs.get();
        job.set(q, k, v, out, mask, scale);
        job.run(pool, q.size(0));
    }
}
