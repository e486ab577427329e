package org.tessera.cli;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.tessera.engine.backend.AttentionOps;
import org.tessera.engine.backend.GemmOps;
import org.tessera.engine.bench.AttentionBenchmark;
import org.tessera.engine.bench.GemmBenchmark;
import org.tessera.engine.parallel.WorkerPool;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code tessera bench ...}: kernel benchmarks that print GF/s tables. */
@Command(
        name = "bench",
        mixinStandardHelpOptions = true,
        header = "Benchmark a pipeline's forward pass, or the GEMM and attention kernels.",
        description = {
            "Benchmark a pipeline's forward pass: tessera bench FILE prints a per-op time table and the"
                    + " whole forward's effective GF/s (model FLOPs / time).",
            "Or measure kernels: tessera bench gemm | attention; packing: tessera bench packed."
        },
        subcommands = {BenchCommand.Gemm.class, BenchCommand.Attention.class, PackedBench.class})
final class BenchCommand implements java.util.concurrent.Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @CommandLine.Parameters(index = "0", arity = "0..1", paramLabel = "FILE", description = "A .tess pipeline.")
    java.nio.file.Path file;

    @Option(names = "--runs", defaultValue = "3", description = "Timed forward passes (default: ${DEFAULT-VALUE}).")
    int runs;

    @CommandLine.Mixin
    PipelineOptions options;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        if (file == null) {
            spec.commandLine().usage(out);
            return TesseraCommand.EXIT_OK;
        }
        if (runs < 1) {
            throw new IllegalArgumentException("--runs must be at least 1, got " + runs);
        }
        try (var p = org.tessera.runtime.Tessera.compile(file, options.compileOptions())) {
            out.printf(Locale.ROOT, "%s: %s, inputs %s%n", p.name(), p.modelName(), describe(p.inputShapes()));
            for (String line : p.graph().passLog()) {
                out.println("  " + line);
            }
            var profile = p.profile(runs);
            out.print(profile.table(12));
            double seconds = profile.totalNanos() / 1e9 / runs;
            double rate = p.graph().flops() / seconds / 1e9;
            if (!p.graph().backend().onHost()) {
                // Per-node times above wait for each kernel; the real forward replays one CUDA graph.
                double ms = p.forwardMillis(runs);
                out.printf(
                        Locale.ROOT,
                        "forward on %s: %.2f ms (best of %d, CUDA graph replay), %.1f GFLOP, %.1f TF/s effective%n",
                        p.graph().backend().name(),
                        ms,
                        runs,
                        p.graph().flops() / 1e9,
                        p.graph().flops() / ms / 1e9);
                return TesseraCommand.EXIT_OK;
            }
            double best = profile.bestRunNanos() / 1e9;
            double bestRate = p.graph().flops() / best / 1e9;
            out.printf(
                    Locale.ROOT,
                    "forward: %.1f ms mean, %.1f ms best, %.1f GFLOP, %.1f GF/s effective (best; mean %.1f)"
                            + " (%d threads, %d runs)%n",
                    seconds * 1e3,
                    best * 1e3,
                    p.graph().flops() / 1e9,
                    bestRate,
                    rate,
                    p.graph().backend().pool().threads(),
                    runs);
            // The anchor, measured in the same run on the same threads: a DiT-sized GEMM, B pre-packed,
            // in as many rounds as forward runs, each as long as the best forward, best round kept.
            // Both sides are then a best-of over the same kind of window: short rounds would let
            // the GEMM pick the machine's fastest 50 ms while a forward averages over seconds.
            var pool = p.graph().backend().pool();
            double gemm = GemmBenchmark.measure(
                            p.graph().backend().gemm(), pool, 512, 1152, 1152, true, runs * best, best)
                    .gflops();
            out.printf(
                    Locale.ROOT,
                    "GEMM 512×1152×1152 (B pre-packed) on the same threads, best of %d rounds of %.1f s:"
                            + " %.1f GF/s; forward / GEMM = %.2f (best / best; mean forward %.2f)%n",
                    runs,
                    best,
                    gemm,
                    bestRate / gemm,
                    rate / gemm);
        }
        return TesseraCommand.EXIT_OK;
    }

    private static String describe(java.util.Map<String, int[]> shapes) {
        StringBuilder sb = new StringBuilder();
        shapes.forEach((k, v) ->
                sb.append(sb.isEmpty() ? "" : ", ").append(k).append(' ').append(java.util.Arrays.toString(v)));
        return sb.toString();
    }

    /** The DiT-XL/2 GEMM shapes (M×K×N) at batch 2 / 256 tokens, and a square one. */
    static final String DIT_SHAPES = "256x1152x3456,256x1152x4608,256x4608x1152,512x1152x1152,2048x2048x2048";

    @Command(
            name = "gemm",
            mixinStandardHelpOptions = true,
            description = {
                "Time C = A·B on the CPU backend for each shape and thread count.",
                "Prints GF/s with B packed once up front (weights) and packed inside every call.",
                "With --device cuda: TFLOP/s through cuBLAS on GPU 0 in each --precision.",
                "Side by side with OpenBLAS, as ratios: bench/gemm-vs-openblas.sh (drives --serve)."
            })
    static final class Gemm implements Runnable {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Option(
                names = "--shapes",
                defaultValue = DIT_SHAPES,
                split = ",",
                description = "MxKxN shapes, comma-separated (default: ${DEFAULT-VALUE}).")
        List<String> shapes;

        @CommandLine.Mixin
        ThreadCounts threads;

        @Option(
                names = "--seconds",
                defaultValue = "1.5",
                description = "Timed seconds per shape and mode (default: ${DEFAULT-VALUE}).")
        double seconds;

        @Option(names = "--csv", description = "Print CSV instead of a table.")
        boolean csv;

        @Option(
                names = "--serve",
                description = {
                    "Read 'MxKxN THREADS' lines from standard input and answer each with one CSV line",
                    "(m,k,n,threads,prepacked_gflops,percall_gflops), until end of input: for scripts that",
                    "alternate with another library shape by shape (bench/gemm-vs-openblas.sh)."
                })
        boolean serve;

        @Option(names = "--device", defaultValue = "cpu", description = "cpu or cuda (default: ${DEFAULT-VALUE}).")
        String device;

        @Option(
                names = "--precision",
                defaultValue = "fp32,tf32,bf16",
                split = ",",
                description = "With --device cuda: fp32, tf32 and/or bf16 (default: ${DEFAULT-VALUE}).")
        List<String> precisions;

        @Override
        public void run() {
            PrintWriter out = spec.commandLine().getOut();
            List<int[]> parsed = new ArrayList<>();
            for (String s : shapes) {
                parsed.add(parseShape(s));
            }
            if (device.equals("cuda")) {
                runOnGpu(out, parsed);
                return;
            }
            if (!device.equals("cpu")) {
                throw new IllegalArgumentException("--device must be cpu or cuda, got " + device);
            }
            if (serve) {
                serve(out);
                return;
            }
            if (csv) {
                out.println("m,k,n,threads,prepacked_gflops,percall_gflops");
            } else {
                out.printf(Locale.ROOT, "%-18s %7s %14s %14s%n", "M×K×N", "threads", "prepacked GF/s", "per-call GF/s");
            }
            for (int t : threads.validated()) {
                try (WorkerPool pool = new WorkerPool(t)) {
                    GemmOps gemm = cpuBackend(pool).gemm();
                    for (int[] s : parsed) {
                        var pre = GemmBenchmark.measure(gemm, pool, s[0], s[1], s[2], true, seconds);
                        var per = GemmBenchmark.measure(gemm, pool, s[0], s[1], s[2], false, seconds);
                        if (csv) {
                            out.printf(
                                    Locale.ROOT,
                                    "%d,%d,%d,%d,%.2f,%.2f%n",
                                    s[0],
                                    s[1],
                                    s[2],
                                    t,
                                    pre.gflops(),
                                    per.gflops());
                        } else {
                            out.printf(
                                    Locale.ROOT,
                                    "%-18s %7d %14.1f %14.1f%n",
                                    s[0] + "×" + s[1] + "×" + s[2],
                                    t,
                                    pre.gflops(),
                                    per.gflops());
                        }
                        out.flush();
                    }
                }
            }
        }

        /** The --serve loop: one pool per thread count, kept warm between requests. */
        private void serve(PrintWriter out) {
            java.util.Map<Integer, WorkerPool> pools = new java.util.TreeMap<>();
            java.util.Map<Integer, GemmOps> gemms = new java.util.TreeMap<>(); // warm buffers, one per pool
            try (var in = new java.io.BufferedReader(
                    new java.io.InputStreamReader(System.in, java.nio.charset.StandardCharsets.UTF_8))) {
                String line;
                while ((line = in.readLine()) != null) {
                    line = line.strip();
                    if (line.isEmpty()) {
                        continue;
                    }
                    String[] parts = line.split("\\s+");
                    int[] s;
                    int t;
                    try {
                        s = parseShape(parts[0]);
                        t = parts.length > 1
                                ? Integer.parseInt(parts[1])
                                : threads.validated().get(0);
                        if (t < 1) {
                            throw new IllegalArgumentException("the thread count must be at least 1");
                        }
                    } catch (IllegalArgumentException e) {
                        throw new IllegalArgumentException(
                                "--serve: expected 'MxKxN THREADS', got '" + line + "' (" + e.getMessage() + ")");
                    }
                    WorkerPool pool = pools.computeIfAbsent(t, WorkerPool::new);
                    GemmOps gemm =
                            gemms.computeIfAbsent(t, x -> cpuBackend(pool).gemm());
                    var pre = GemmBenchmark.measure(gemm, pool, s[0], s[1], s[2], true, seconds);
                    var per = GemmBenchmark.measure(gemm, pool, s[0], s[1], s[2], false, seconds);
                    out.printf(Locale.ROOT, "%d,%d,%d,%d,%.2f,%.2f%n", s[0], s[1], s[2], t, pre.gflops(), per.gflops());
                    out.flush();
                }
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException("bench gemm --serve: reading standard input", e);
            } finally {
                pools.values().forEach(WorkerPool::close);
            }
        }

        private void runOnGpu(PrintWriter out, List<int[]> parsed) {
            runOnGpuImpl(out, parsed, precisions, seconds);
        }
    }

    private static void runOnGpuImpl(PrintWriter out, List<int[]> shapes, List<String> precisions, double seconds) {
        List<org.tessera.engine.cuda.CudaBackend.Precision> ps = new ArrayList<>();
        for (String p : precisions) {
            try {
                ps.add(org.tessera.engine.cuda.CudaBackend.Precision.valueOf(p.toUpperCase(Locale.ROOT)));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("--precision: expected fp32, tf32 or bf16, got " + p);
            }
        }
        try (var dev = org.tessera.engine.cuda.CudaDevice.open(0)) {
            out.println("GPU 0: " + dev.info().name() + " (" + dev.info().arch() + ")");
            out.printf(Locale.ROOT, "%-18s %9s %10s%n", "M×K×N", "precision", "TFLOP/s");
            for (int[] s : shapes) {
                for (var p : ps) {
                    double tf = org.tessera.engine.cuda.CudaGemmBenchmark.measure(dev, p, s[0], s[1], s[2], seconds);
                    out.printf(
                            Locale.ROOT,
                            "%-18s %9s %10.1f%n",
                            s[0] + "×" + s[1] + "×" + s[2],
                            p.name().toLowerCase(Locale.ROOT),
                            tf);
                    out.flush();
                }
            }
        }
    }

    @Command(
            name = "attention",
            mixinStandardHelpOptions = true,
            description = {
                "Time fused attention softmax(Q·Kᵀ/√d)·V on the CPU backend.",
                "Effective GF/s counts 4·B·H·N²·d flops; the ratio is to the GEMM rate measured",
                "in the same run (512×1152×1152, B pre-packed) at the same thread count."
            })
    static final class Attention implements Runnable {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Option(
                names = "--shapes",
                defaultValue = "2x16x256x72,2x16x4096x72",
                split = ",",
                description = "BxHxNxD shapes: batch, heads, tokens, head dim (default: ${DEFAULT-VALUE}:"
                        + " DiT-XL/2 at 256×256, and a video-length sequence).")
        List<String> shapes;

        @CommandLine.Mixin
        ThreadCounts threads;

        @Option(
                names = "--seconds",
                defaultValue = "1.5",
                description = "Timed seconds per shape and round (default: ${DEFAULT-VALUE}).")
        double seconds;

        @Option(
                names = "--rounds",
                defaultValue = "3",
                description = "Rounds, each timing the GEMM anchor and then every shape; each keeps its best"
                        + " round, so both sides of a ratio see the machine over the same minutes"
                        + " (default: ${DEFAULT-VALUE}).")
        int rounds;

        @Override
        public void run() {
            if (rounds < 1) {
                throw new IllegalArgumentException("--rounds: must be at least 1, got " + rounds);
            }
            PrintWriter out = spec.commandLine().getOut();
            PrintWriter err = spec.commandLine().getErr();
            List<int[]> parsed = new ArrayList<>();
            for (String s : shapes) {
                parsed.add(parseDims(s, 4, "BxHxNxD"));
            }
            out.printf(
                    Locale.ROOT,
                    "%-18s %7s %10s %10s %10s %7s%n",
                    "B×H×N×D",
                    "threads",
                    "ms",
                    "GF/s",
                    "GEMM GF/s",
                    "ratio");
            for (int t : threads.validated()) {
                try (WorkerPool pool = new WorkerPool(t)) {
                    AttentionOps ops = cpuBackend(pool).attention();
                    double gemmRate = 0;
                    AttentionBenchmark.Result[] best = new AttentionBenchmark.Result[parsed.size()];
                    for (int round = 1; round <= rounds; round++) {
                        err.printf(
                                Locale.ROOT,
                                "round %d/%d at %d thread(s): the GEMM anchor, then each shape ...%n",
                                round,
                                rounds,
                                t);
                        err.flush();
                        gemmRate = Math.max(
                                gemmRate,
                                GemmBenchmark.measure(
                                                cpuBackend(pool).gemm(),
                                                pool,
                                                512,
                                                1152,
                                                1152,
                                                true,
                                                Math.min(seconds, 1.0))
                                        .gflops());
                        for (int i = 0; i < parsed.size(); i++) {
                            int[] s = parsed.get(i);
                            var r = AttentionBenchmark.measure(ops, pool, s[0], s[1], s[2], s[3], seconds);
                            if (best[i] == null || r.gflops() > best[i].gflops()) {
                                best[i] = r;
                            }
                        }
                    }
                    for (AttentionBenchmark.Result r : best) {
                        out.printf(
                                Locale.ROOT,
                                "%-18s %7d %10.2f %10.1f %10.1f %7.2f%n",
                                r.batch() + "×" + r.heads() + "×" + r.tokens() + "×" + r.headDim(),
                                t,
                                r.millis(),
                                r.gflops(),
                                gemmRate,
                                r.gflops() / gemmRate);
                    }
                    out.flush();
                }
            }
        }
    }

    /** {@code --threads 1,2}: the thread counts a kernel bench runs at. */
    static final class ThreadCounts {
        @Option(
                names = "--threads",
                defaultValue = "1,2",
                split = ",",
                description = "Thread counts to run (default: ${DEFAULT-VALUE}).")
        List<Integer> counts;

        List<Integer> validated() {
            for (int t : counts) {
                if (t < 1) {
                    throw new IllegalArgumentException("--threads: thread counts must be at least 1, got " + t);
                }
            }
            return counts;
        }
    }

    /** The CPU backend the pipelines would run on (the SIMD kernels, or the scalar fallback with a warning). */
    private static org.tessera.engine.backend.Backend cpuBackend(WorkerPool pool) {
        return org.tessera.engine.backend.Backends.cpu(pool, System.err::println);
    }

    static int[] parseShape(String s) {
        return parseDims(s, 3, "MxKxN");
    }

    static int[] parseDims(String s, int count, String form) {
        String[] parts = s.trim().toLowerCase(Locale.ROOT).split("[x×]");
        if (parts.length != count) {
            throw new IllegalArgumentException("--shapes: '" + s + "' is not " + form);
        }
        int[] dims = new int[count];
        for (int i = 0; i < count; i++) {
            try {
                dims[i] = Integer.parseInt(parts[i]);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("--shapes: '" + s + "' is not " + form);
            }
            if (dims[i] < 1) {
                throw new IllegalArgumentException("--shapes: dimensions of '" + s + "' must be positive");
            }
        }
        return dims;
    }
}
