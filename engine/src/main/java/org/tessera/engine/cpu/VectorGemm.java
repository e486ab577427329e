package org.tessera.engine.cpu;

import static org.tessera.engine.cpu.GemmKernel.NR;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.tessera.engine.backend.Activation;
import org.tessera.engine.backend.Epilogue;
import org.tessera.engine.backend.GemmOps;
import org.tessera.engine.backend.OpChecks;
import org.tessera.engine.backend.PackedMatrix;
import org.tessera.engine.parallel.WorkerPool;
import org.tessera.engine.tensor.ShapeMismatchException;
import org.tessera.engine.tensor.Tensor;

/** SIMD GEMM on a {@link WorkerPool}: packed panels, a 6×(2·lanes) register kernel. */
final class VectorGemm implements GemmOps {
    private final WorkerPool pool;
    /** One reusable job (and its packing buffers) per calling thread. */
    private final ThreadLocal<GemmJob> jobs = ThreadLocal.withInitial(GemmJob::new);

    VectorGemm(WorkerPool pool) {
        this.pool = pool;
    }

    @Override
    public void gemm(Tensor a, Tensor b, Tensor c, float alpha, float beta, Epilogue epilogue) {
        OpChecks.gemm(a, b, c);
        OpChecks.epilogue(epilogue, c.size(1));
        GemmJob job = prepare(a, c, epilogue);
        job.setB(b.storage(), b.offset(), b.stride(0), b.stride(1));
        job.run(pool, a.size(0), b.size(1), a.size(1), alpha, beta, null);
    }

    @Override
    public void gemm(Tensor a, PackedMatrix b, Tensor c, float alpha, float beta, Epilogue epilogue) {
        if (!(b instanceof CpuPackedMatrix packed)) {
            throw new ShapeMismatchException(
                    "gemm: B was packed by another backend (" + b.getClass().getSimpleName() + ")");
        }
        OpChecks.gemm(a, packed.rows(), packed.cols(), c);
        OpChecks.epilogue(epilogue, c.size(1));
        GemmJob job = prepare(a, c, epilogue);
        job.run(pool, a.size(0), packed.cols(), a.size(1), alpha, beta, packed);
    }

    /**
     * C = A·B + rowBias[i] on each row i, for a B that {@code source} packs as the product needs
     * it (a convolution's im2col: {@link Im2colPanels}); rowBias [M] or null.
     */
    void gemm(Tensor a, GemmJob.PanelSource source, int n, Tensor c, Tensor rowBias) {
        OpChecks.f32("gemm", "A", a);
        OpChecks.f32("gemm", "C", c);
        GemmJob job = prepare(a, c, Epilogue.NONE);
        job.setB(source);
        if (rowBias != null) {
            job.setRowBias(rowBias.storage(), rowBias.byteOffset());
        }
        job.run(pool, a.size(0), n, a.size(1), 1f, 0f, null);
    }

    /**
     * C [m, b.cols()] = A [m, b.rows()] · B, A and C row-major at float offsets in segments and B
     * already in panels: for callers that multiply many blocks of one buffer
     * ({@link WinogradConv}) without making a view of each.
     */
    void gemm(MemorySegment a, long aOff, CpuPackedMatrix b, MemorySegment c, long cOff, int m) {
        GemmJob job = jobs.get();
        job.setA(a, aOff, b.rows(), 1);
        job.setC(c, 4 * cOff, 4L * b.cols());
        job.setEpilogue(null, 0, Activation.NONE);
        job.run(pool, m, b.cols(), b.rows(), 1f, 0f, b);
    }

    private GemmJob prepare(Tensor a, Tensor c, Epilogue epilogue) {
        GemmJob job = jobs.get();
        job.setA(a.storage(), a.offset(), a.stride(0), a.stride(1));
        job.setC(c.storage(), c.byteOffset(), 4L * c.stride(0));
        Tensor bias = epilogue.bias();
        job.setEpilogue(
                bias == null ? null : bias.storage(), bias == null ? 0 : bias.byteOffset(), epilogue.activation());
        return job;
    }

    @Override
    public PackedMatrix pack(Tensor b, Arena arena) {
        OpChecks.f32("pack", "B", b);
        OpChecks.rank("pack", "B", b, 2);
        int k = b.size(0);
        int n = b.size(1);
        int panels = (n + NR - 1) / NR;
        float[] dst = new float[Math.multiplyExact(Math.multiplyExact(panels, NR), Math.max(k, 1))];
        pool.run(
                panels,
                p -> GemmKernel.packB(
                        b.storage(),
                        b.offset(),
                        b.stride(0),
                        b.stride(1),
                        0,
                        k,
                        p * NR,
                        Math.min(NR, n - p * NR),
                        dst,
                        p * k * NR));
        return new CpuPackedMatrix(k, n, dst);
    }
}
