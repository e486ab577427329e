package org.tessera.dsl.cli;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.tessera.engine.backend.GemmOps;
import org.tessera.engine.bench.GemmBenchmark;
import org.tessera.engine.cpu.VectorKernels;
import org.tessera.engine.parallel.WorkerPool;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code tessera bench ...}: kernel benchmarks that print GF/s tables. */
@Command(
        name = "bench",
        mixinStandardHelpOptions = true,
        description = "Measure kernels and print GF/s tables.",
        subcommands = {BenchCommand.Gemm.class})
final class BenchCommand implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    /** The DiT-XL/2 GEMM shapes (M×K×N) at batch 2 / 256 tokens, and a square one. */
    static final String DIT_SHAPES = "256x1152x3456,256x1152x4608,256x4608x1152,512x1152x1152,2048x2048x2048";

    @Command(name = "gemm", mixinStandardHelpOptions = true,
            description = {"Time C = A·B on the CPU backend for each shape and thread count.",
                "Prints GF/s with B packed once up front (weights) and packed inside every call."})
    static final class Gemm implements Runnable {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Option(names = "--shapes", defaultValue = DIT_SHAPES, split = ",",
                description = "MxKxN shapes, comma-separated (default: ${DEFAULT-VALUE}).")
        List<String> shapes;

        @Option(names = "--threads", defaultValue = "1,2", split = ",",
                description = "Thread counts to run (default: ${DEFAULT-VALUE}).")
        List<Integer> threads;

        @Option(names = "--seconds", defaultValue = "1.5",
                description = "Timed seconds per shape and mode (default: ${DEFAULT-VALUE}).")
        double seconds;

        @Option(names = "--csv", description = "Print CSV instead of a table.")
        boolean csv;

        @Override
        public void run() {
            PrintWriter out = spec.commandLine().getOut();
            List<int[]> parsed = new ArrayList<>();
            for (String s : shapes) {
                parsed.add(parseShape(s));
            }
            if (csv) {
                out.println("m,k,n,threads,prepacked_gflops,percall_gflops");
            } else {
                out.printf(Locale.ROOT, "%-18s %7s %14s %14s%n", "M×K×N", "threads", "prepacked GF/s", "per-call GF/s");
            }
            for (int t : threads) {
                if (t < 1) {
                    throw new IllegalArgumentException("--threads: thread counts must be at least 1, got " + t);
                }
                try (WorkerPool pool = new WorkerPool(t)) {
                    GemmOps gemm = VectorKernels.gemm(pool);
                    for (int[] s : parsed) {
                        var pre = GemmBenchmark.measure(gemm, pool, s[0], s[1], s[2], true, seconds);
                        var per = GemmBenchmark.measure(gemm, pool, s[0], s[1], s[2], false, seconds);
                        if (csv) {
                            out.printf(Locale.ROOT, "%d,%d,%d,%d,%.2f,%.2f%n", s[0], s[1], s[2], t, pre.gflops(), per.gflops());
                        } else {
                            out.printf(Locale.ROOT, "%-18s %7d %14.1f %14.1f%n",
                                    s[0] + "×" + s[1] + "×" + s[2], t, pre.gflops(), per.gflops());
                        }
                        out.flush();
                    }
                }
            }
        }
    }

    static int[] parseShape(String s) {
        String[] parts = s.trim().toLowerCase(Locale.ROOT).split("[x×]");
        if (parts.length != 3) {
            throw new IllegalArgumentException("--shapes: '" + s + "' is not MxKxN");
        }
        int[] dims = new int[3];
        for (int i = 0; i < 3; i++) {
            try {
                dims[i] = Integer.parseInt(parts[i]);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("--shapes: '" + s + "' is not MxKxN");
            }
            if (dims[i] < 1) {
                throw new IllegalArgumentException("--shapes: dimensions of '" + s + "' must be positive");
            }
        }
        return dims;
    }
}
