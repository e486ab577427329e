package org.tessera.engine.cuda;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.BiConsumer;
import org.tessera.engine.backend.Activation;
import org.tessera.engine.backend.AttentionMask;
import org.tessera.engine.backend.Backend;
import org.tessera.engine.backend.Epilogue;
import org.tessera.engine.parallel.WorkerPool;
import org.tessera.engine.random.RandomStream;
import org.tessera.engine.reference.ScalarBackend;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Tensor;

/**
 * Runs every CUDA op against the CPU's scalar reference on odd-sized random inputs and reports
 * the largest error of each: the GPU test suite's body, also reachable from {@code tessera doctor
 * --gpu} on a machine without a JDK build. Inputs are made on the host, uploaded, run on both
 * sides, and the device result downloaded and compared.
 */
public final class CudaSelfTest {
    /** One op's comparison. */
    public record Result(String op, double maxError, double tolerance) {
        public boolean ok() {
            return maxError <= tolerance;
        }

        @Override
        public String toString() {
            return String.format(
                    Locale.ROOT,
                    "%-34s max |err| %.2e (tolerance %.0e) %s",
                    op,
                    maxError,
                    tolerance,
                    ok() ? "ok" : "FAILED");
        }
    }

    private final CudaDevice dev;
    private final Backend gpu;
    private final Backend ref = ScalarBackend.create(new WorkerPool(1));
    private final List<Result> results = new ArrayList<>();
    private long stream = 1;

    private CudaSelfTest(CudaDevice dev) {
        this.dev = dev;
        this.gpu = CudaBackend.create(dev, CudaBackend.Precision.FP32);
    }

    /** Every check, FP32 products; the device stays open for the caller. */
    public static List<Result> run(CudaDevice dev) {
        CudaSelfTest t = new CudaSelfTest(dev);
        t.all();
        return t.results;
    }

    private Tensor random(int... shape) {
        Tensor t = Tensor.zeros(DType.F32, shape);
        new RandomStream(7, stream++).fillNormal(t, new WorkerPool(1));
        return t;
    }

    private void check(String name, double tol, Tensor[] inputs, int[] outShape, BiConsumer<Backend, Tensor[]> op) {
        check(gpu, name, tol, inputs, outShape, op);
    }

    /** Runs {@code op} on the reference (host tensors) and on {@code gpu} (uploaded copies); compares the output. */
    private void check(
            Backend gpu, String name, double tol, Tensor[] inputs, int[] outShape, BiConsumer<Backend, Tensor[]> op) {
        Tensor[] host = new Tensor[inputs.length + 1];
        System.arraycopy(inputs, 0, host, 0, inputs.length);
        host[inputs.length] = Tensor.zeros(DType.F32, outShape);
        op.accept(ref, host);
        Tensor[] device = new Tensor[host.length];
        for (int i = 0; i < inputs.length; i++) {
            device[i] = inputs[i] == null ? null : dev.upload(inputs[i]);
        }
        device[inputs.length] = dev.allocate(DType.F32, outShape);
        try {
            op.accept(gpu, device);
            dev.synchronize(name);
            results.add(new Result(
                    name,
                    maxError(
                            host[inputs.length].toFloatArray(),
                            dev.download(device[inputs.length]).toFloatArray()),
                    tol));
        } catch (RuntimeException e) {
            results.add(new Result(name + " (" + e.getMessage() + ")", Double.POSITIVE_INFINITY, tol));
        } finally {
            for (Tensor t : device) {
                if (t != null) {
                    dev.free(t);
                }
            }
        }
    }

    private static double maxError(float[] expected, float[] actual) {
        double max = 0;
        for (int i = 0; i < expected.length; i++) {
            double e = Math.abs(expected[i] - actual[i]) / (1 + Math.abs(expected[i]));
            if (Double.isNaN(e)) {
                return Double.POSITIVE_INFINITY;
            }
            max = Math.max(max, e);
        }
        return max;
    }

    private void all() {
        int m = 37, k = 300, n = 65;
        check(
                "gemm 37×300×65",
                1e-4,
                new Tensor[] {random(m, k), random(k, n)},
                new int[] {m, n},
                (b, t) -> b.gemm().matmul(t[0], t[1], t[2]));
        check(
                "gemm transposed B + bias + gelu",
                1e-4,
                new Tensor[] {random(m, k), random(n, k), random(n)},
                new int[] {m, n},
                (b, t) -> b.gemm().gemm(t[0], t[1].t(), t[3], 1f, 0f, Epilogue.of(t[2], Activation.GELU_TANH)));
        // Packing reads the host weight, as compiling a plan does.
        Tensor weight = random(n, k);
        check("gemm packed weight + silu", 1e-4, new Tensor[] {random(m, k)}, new int[] {m, n}, (b, t) -> {
            var packed = b.gemm().pack(weight.t(), java.lang.foreign.Arena.ofAuto());
            b.gemm().gemm(t[0], packed, t[1], 1f, 0f, Epilogue.of(null, Activation.SILU));
        });
        // TF32 keeps 10 mantissa bits and BF16 7: errors grow like 2^-bits·√K relative to the values.
        Backend tf32 = CudaBackend.create(dev, CudaBackend.Precision.TF32);
        Backend bf16 = CudaBackend.create(dev, CudaBackend.Precision.BF16);
        check(
                tf32,
                "gemm TF32, transposed B",
                5e-3,
                new Tensor[] {random(m, k), random(n, k)},
                new int[] {m, n},
                (b, t) -> b.gemm().gemm(t[0], t[1].t(), t[2], 1f, 0f, Epilogue.NONE));
        check(
                bf16,
                "gemm BF16, transposed B + bias",
                3e-2,
                new Tensor[] {random(m, k), random(n, k), random(n)},
                new int[] {m, n},
                (b, t) -> b.gemm().gemm(t[0], t[1].t(), t[3], 1f, 0f, Epilogue.of(t[2], Activation.NONE)));
        check(
                bf16,
                "gemm BF16 packed weight",
                3e-2,
                new Tensor[] {random(m, k)},
                new int[] {m, n},
                (b, t) -> b.gemm()
                        .gemm(
                                t[0],
                                b.gemm().pack(weight.t(), java.lang.foreign.Arena.ofAuto()),
                                t[1],
                                1f,
                                0f,
                                Epilogue.NONE));
        check(
                "batched gemm 3×17×33×29",
                1e-4,
                new Tensor[] {random(3, 17, 33), random(3, 33, 29)},
                new int[] {3, 17, 29},
                (b, t) -> b.gemm().batchedGemm(t[0], t[1], t[2], 1f, 0f));
        check(
                "attention 2×3×37×72",
                1e-4,
                new Tensor[] {random(2, 3, 37, 72), random(2, 3, 41, 72), random(2, 3, 41, 72)},
                new int[] {2, 3, 37, 72},
                (b, t) -> b.attention().attention(t[0], t[1], t[2], t[3], AttentionMask.NONE));
        check(
                "attention, additive mask",
                1e-4,
                new Tensor[] {random(2, 3, 33, 40), random(2, 3, 33, 40), random(2, 3, 33, 40), random(33, 33)},
                new int[] {2, 3, 33, 40},
                (b, t) -> b.attention().attention(t[0], t[1], t[2], t[4], new AttentionMask.Additive(t[3])));
        // The same two cases through the flash kernel (the checks above took the cuBLAS path), and
        // packed rows longer than a key tile (32 keys), where the kernel skips the tiles that hold no
        // key of its queries' examples: examples of 40, 3, 70 and 37 tokens, and of 100 and 50, so
        // that tiles are skipped, straddle two examples, or hold a whole short one.
        int[][] packed = new int[2][150];
        for (int i = 0; i < 150; i++) {
            packed[0][i] = i < 40 ? 0 : i < 43 ? 1 : i < 113 ? 2 : 3;
            packed[1][i] = i < 100 ? 0 : 1;
        }
        CudaAttention attention = (CudaAttention) gpu.attention();
        attention.usePath("flash");
        try {
            check(
                    "attention 2×3×37×72 (flash kernel)",
                    1e-4,
                    new Tensor[] {random(2, 3, 37, 72), random(2, 3, 41, 72), random(2, 3, 41, 72)},
                    new int[] {2, 3, 37, 72},
                    (b, t) -> b.attention().attention(t[0], t[1], t[2], t[3], AttentionMask.NONE));
            check(
                    "attention, additive mask (flash kernel)",
                    1e-4,
                    new Tensor[] {random(2, 3, 33, 40), random(2, 3, 33, 40), random(2, 3, 33, 40), random(33, 33)},
                    new int[] {2, 3, 33, 40},
                    (b, t) -> b.attention().attention(t[0], t[1], t[2], t[4], new AttentionMask.Additive(t[3])));
            check(
                    "attention, segment ids over several key tiles (flash kernel)",
                    1e-4,
                    new Tensor[] {random(2, 2, 150, 32), random(2, 2, 150, 32), random(2, 2, 150, 32)},
                    new int[] {2, 2, 150, 32},
                    (b, t) -> b.attention()
                            .attention(t[0], t[1], t[2], t[3], new AttentionMask.Segments(packed, packed)));
        } finally {
            attention.usePath("auto");
        }
        // Q, K, V as slices of one fused projection [B, N, 3, H, d] (DiT's layout), cuBLAS path.
        Tensor qkv = random(2, 19, 3, 4, 24);
        check("attention on qkv slices (strided)", 1e-4, new Tensor[] {qkv}, new int[] {2, 4, 19, 24}, (b, t) -> {
            Tensor heads = t[0].permute(2, 0, 3, 1, 4); // [3, B, H, N, d]
            b.attention()
                    .attention(heads.select(0, 0), heads.select(0, 1), heads.select(0, 2), t[1], AttentionMask.NONE);
        });
        int[][] segs = new int[2][35];
        for (int i = 0; i < 35; i++) {
            segs[0][i] = i / 12;
            segs[1][i] = i < 20 ? 0 : 1;
        }
        check(
                "attention, segment ids",
                1e-4,
                new Tensor[] {random(2, 2, 35, 16), random(2, 2, 35, 16), random(2, 2, 35, 16)},
                new int[] {2, 2, 35, 16},
                (b, t) -> b.attention().attention(t[0], t[1], t[2], t[3], new AttentionMask.Segments(segs, segs)));
        check(
                "softmax 7×1000",
                1e-5,
                new Tensor[] {random(7, 1000)},
                new int[] {7, 1000},
                (b, t) -> b.norms().softmax(t[0], t[1]));
        check(
                "layerNorm 17×1152 affine",
                1e-4,
                new Tensor[] {random(17, 1152), random(1152), random(1152)},
                new int[] {17, 1152},
                (b, t) -> b.norms().layerNorm(t[0], t[1], t[2], 1e-6f, t[3]));
        check(
                "layerNorm + modulate",
                1e-4,
                new Tensor[] {random(2, 33, 72), random(2, 1, 72), random(2, 1, 72)},
                new int[] {2, 33, 72},
                (b, t) -> b.norms().layerNormModulate(t[0], t[1], t[2], 1e-6f, t[3]));
        check(
                "groupNorm 2×12×7×5, 3 groups",
                1e-4,
                new Tensor[] {random(2, 12, 7, 5), random(12), random(12)},
                new int[] {2, 12, 7, 5},
                (b, t) -> b.norms().groupNorm(t[0], 3, t[1], t[2], 1e-5f, t[3]));
        check(
                "add with broadcast",
                0,
                new Tensor[] {random(3, 1, 17), random(5, 1)},
                new int[] {3, 5, 17},
                (b, t) -> b.elementwise().add(t[0], t[1], t[2]));
        check(
                "div, transposed view",
                1e-6,
                new Tensor[] {random(9, 7), random(7, 9)},
                new int[] {9, 7},
                (b, t) -> b.elementwise().div(t[0], t[1].t(), t[2]));
        check(
                "axpby",
                1e-6,
                new Tensor[] {random(1001), random(1001)},
                new int[] {1001},
                (b, t) -> b.elementwise().axpby(0.3f, t[0], -1.7f, t[1], t[2]));
        check(
                "gelu",
                1e-6,
                new Tensor[] {random(1001)},
                new int[] {1001},
                (b, t) -> b.elementwise().gelu(t[0], t[1]));
        check(
                "clamp",
                0,
                new Tensor[] {random(1001)},
                new int[] {1001},
                (b, t) -> b.elementwise().clamp(t[0], -0.5f, 0.75f, t[1]));
        check(
                "silu",
                1e-6,
                new Tensor[] {random(1001)},
                new int[] {1001},
                (b, t) -> b.elementwise().silu(t[0], t[1]));
        check(
                "modulate",
                1e-6,
                new Tensor[] {random(2, 7, 33), random(2, 1, 33), random(2, 1, 33)},
                new int[] {2, 7, 33},
                (b, t) -> b.elementwise().modulate(t[0], t[1], t[2], t[3]));
        check(
                "timestep embedding 3×257",
                1e-6,
                new Tensor[] {Tensor.of(new float[] {0f, 17.5f, 999f}, 3)},
                new int[] {3, 257},
                (b, t) -> b.tables().timestepEmbedding(t[0], 10000, t[1]));
        check(
                "sin-cos 1-D",
                1e-6,
                new Tensor[] {Tensor.of(new float[] {0f, 3f, 11f, 200f}, 4)},
                new int[] {4, 64},
                (b, t) -> b.tables().sinCos1d(t[0], t[1]));
        check(
                "sin-cos 2-D 5×7",
                1e-6,
                new Tensor[] {},
                new int[] {35, 72},
                (b, t) -> b.tables().sinCos2d(5, 7, t[0]));
        check(
                "patch embed 2-D",
                1e-4,
                new Tensor[] {random(2, 4, 8, 6), random(24, 4, 2, 2), random(24)},
                new int[] {2, 12, 24},
                (b, t) -> b.conv().patchEmbed2d(t[0], t[1], t[2], t[3]));
        check(
                "patch embed 3-D",
                1e-4,
                new Tensor[] {random(1, 3, 4, 4, 6), random(10, 3, 2, 2, 3), random(10)},
                new int[] {1, 8, 10},
                (b, t) -> b.conv().patchEmbed3d(t[0], t[1], t[2], t[3]));
        check(
                "conv2d stride 2 padding 1",
                1e-4,
                new Tensor[] {random(2, 3, 9, 7), random(5, 3, 3, 3), random(5)},
                new int[] {2, 5, 5, 4},
                (b, t) -> b.conv().conv2d(t[0], t[1], t[2], 2, 1, t[3]));
        check(
                "upsample ×2",
                0,
                new Tensor[] {random(2, 3, 5, 4)},
                new int[] {2, 3, 10, 8},
                (b, t) -> b.conv().upsampleNearest2d(t[0], 2, t[1]));
        randomStreams();
        integerData();
        wholePlan();
    }

    /**
     * One compiled plan on the GPU against the same plan on the CPU: uploads, copies, gathers,
     * casts, segment-masked attention, and the CUDA graph — run 0 launches kernel by kernel,
     * run 1 is captured, run 2 replays.
     */
    private void wholePlan() {
        var graph = org.tessera.engine.graph.SampleGraphs.ditLike();
        var inputs = org.tessera.engine.graph.SampleGraphs.ditLikeInputs();
        try (WorkerPool pool = new WorkerPool(1)) {
            Backend host = org.tessera.engine.backend.Backends.cpu(pool, m -> {});
            float[] expected;
            try (var e = org.tessera.engine.graph.Planner.compile(graph, host).newExecution()) {
                expected = e.run(inputs).get("out").toFloatArray();
            }
            var compiled = org.tessera.engine.graph.Planner.compile(
                    graph, gpu, host, org.tessera.engine.graph.Planner.Options.DEFAULT, t -> {});
            try (var e = compiled.newExecution()) {
                for (int run = 0; run < 3; run++) {
                    String name = "DiT-like plan, run " + run
                            + (run == 0 ? " (eager)" : run == 1 ? " (captured)" : " (replayed)");
                    try {
                        results.add(new Result(
                                name,
                                maxError(expected, e.run(inputs).get("out").toFloatArray()),
                                1e-4));
                    } catch (RuntimeException ex) {
                        results.add(new Result(name + " (" + ex.getMessage() + ")", Double.POSITIVE_INFINITY, 1e-4));
                    }
                }
            }
        }
    }

    /** Ids and labels: an i64 expand (strided copy of 8-byte elements) and an i64 → f32 cast. */
    private void integerData() {
        long[] ids = {3, -1, 1L << 40, 7, 0};
        Tensor host = Tensor.ofLongs(java.lang.foreign.Arena.ofAuto(), ids, 5);
        Tensor d = dev.upload(host);
        Tensor wide = dev.allocate(DType.I64, 3, 5);
        Tensor f = dev.allocate(DType.F32, 5);
        try {
            CudaData.copy(dev, d.unsqueeze(0).expand(3, 5), wide);
            CudaData.cast(dev, d, f);
            long[] back = dev.download(wide).toLongArray();
            double err = 0;
            for (int i = 0; i < 15; i++) {
                err = Math.max(err, back[i] == ids[i % 5] ? 0 : 1);
            }
            results.add(new Result("i64 expand (strided 8-byte copy)", err, 0));
            float[] fs = dev.download(f).toFloatArray();
            float[] expected = new float[5];
            for (int i = 0; i < 5; i++) {
                expected[i] = (float) ids[i];
            }
            results.add(new Result("i64 → f32 cast", maxError(expected, fs), 0));
        } finally {
            dev.free(d);
            dev.free(wide);
            dev.free(f);
        }
    }

    /** The counter-based noise: the GPU must give the CPU's numbers for a seed. */
    private void randomStreams() {
        int n = 10_007;
        for (boolean normal : new boolean[] {true, false}) {
            Tensor host = Tensor.zeros(DType.F32, n);
            RandomStream rs = new RandomStream(42, 3);
            if (normal) {
                rs.fillNormal(host, new WorkerPool(1));
            } else {
                rs.fillUniform(host, new WorkerPool(1));
            }
            Tensor d = dev.allocate(DType.F32, n);
            try {
                CudaData.random(dev, 42, 3, normal, d);
                results.add(new Result(
                        normal ? "random normal (same as CPU)" : "random uniform (same as CPU)",
                        maxError(host.toFloatArray(), dev.download(d).toFloatArray()),
                        1e-6));
            } finally {
                dev.free(d);
            }
        }
    }
}
