package org.tessera.engine.cuda;

import java.lang.foreign.MemorySegment;
import org.tessera.engine.backend.Epilogue;
import org.tessera.engine.backend.GemmOps;
import org.tessera.engine.backend.PackedMatrix;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Tensor;
import org.tessera.ffi.CudaRuntime;

/**
 * GEMM throughput on the GPU through the bindings: C = A·B with B a packed weight (as the
 * executor runs linear layers), timed with CUDA events around a loop of launches.
 */
public final class CudaGemmBenchmark {
    private CudaGemmBenchmark() {}

    /** The best TFLOP/s over rounds of back-to-back products lasting about {@code seconds} in all. */
    public static double measure(CudaDevice dev, CudaBackend.Precision precision, int m, int k, int n, double seconds) {
        GemmOps gemm = CudaBackend.create(dev, precision).gemm();
        Tensor a = dev.allocate(DType.F32, m, k);
        Tensor c = dev.allocate(DType.F32, m, n);
        Tensor bHost = Tensor.zeros(DType.F32, k, n);
        PackedMatrix b = gemm.pack(bHost, java.lang.foreign.Arena.ofAuto());
        MemorySegment start = CudaRuntime.eventCreate();
        MemorySegment end = CudaRuntime.eventCreate();
        try {
            gemm.gemm(a, b, c, 1f, 0f, Epilogue.NONE); // warm-up: heuristics, workspace
            dev.synchronize("gemm warm-up");
            double flops = 2.0 * m * k * n;
            // Size a round to ~50 ms from one timed call.
            CudaRuntime.eventRecord(start, dev.stream());
            gemm.gemm(a, b, c, 1f, 0f, Epilogue.NONE);
            CudaRuntime.eventRecord(end, dev.stream());
            double one = Math.max(1e-3, CudaRuntime.elapsedMs(start, end));
            int reps = (int) Math.max(1, Math.min(10_000, 50 / one));
            int rounds = (int) Math.max(3, seconds * 1000 / (reps * one));
            double best = 0;
            for (int r = 0; r < rounds; r++) {
                CudaRuntime.eventRecord(start, dev.stream());
                for (int i = 0; i < reps; i++) {
                    gemm.gemm(a, b, c, 1f, 0f, Epilogue.NONE);
                }
                CudaRuntime.eventRecord(end, dev.stream());
                double ms = CudaRuntime.elapsedMs(start, end);
                best = Math.max(best, flops * reps / (ms / 1e3) / 1e12);
            }
            return best;
        } finally {
            CudaRuntime.eventDestroy(start);
            CudaRuntime.eventDestroy(end);
            dev.free(a);
            dev.free(c);
            if (b instanceof CudaGemm.CudaPackedMatrix p) {
                dev.free(p.data());
            }
        }
    }
}
