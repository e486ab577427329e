package org.tessera.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SequencedMap;
import java.util.SplittableRandom;
import org.tessera.dsl.ModelDefinition;
import org.tessera.dsl.Script;
import org.tessera.engine.backend.Backend;
import org.tessera.engine.backend.Backends;
import org.tessera.engine.graph.Autodiff;
import org.tessera.engine.graph.Execution;
import org.tessera.engine.graph.Graph;
import org.tessera.engine.graph.GraphBuilder;
import org.tessera.engine.graph.Planner;
import org.tessera.engine.graph.Value;
import org.tessera.engine.io.SafetensorsWriter;
import org.tessera.engine.io.WeightBinding;
import org.tessera.engine.io.WeightSource;
import org.tessera.engine.packing.Patches;
import org.tessera.engine.parallel.WorkerPool;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Tensor;
import org.tessera.runtime.CompileOptions;
import org.tessera.runtime.Pipeline;
import org.tessera.runtime.Tessera;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code tessera bench packed}: one forward (a sampling step without guidance) of a DiT over a
 * batch of latents of mixed sizes, packed into shared rows against padded to the largest, side by
 * side: tokens processed, time, and the ratio. Random weights; the model is the stdlib's PackedDiT
 * in one of DiT's published sizes.
 */
@Command(
        name = "packed",
        mixinStandardHelpOptions = true,
        description = {
            "Time one forward of PackedDiT (DiT's weights, per-token conditioning) over a batch of mixed-size"
                    + " latents: packed into rows (first-fit decreasing) against each padded to the largest.",
            "Prints rows × length, the tokens processed (padding included), the milliseconds (best of --runs)"
                    + " and packed / padded."
        })
final class PackedBench implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(
            names = "--sizes",
            defaultValue = "32x32,32x16,16x32,16x16,16x16,16x8,8x16,8x8",
            split = ",",
            description = "HxW latents of the batch (default: ${DEFAULT-VALUE}).")
    List<String> sizes;

    @Option(
            names = "--model",
            defaultValue = "B",
            description = "DiT size at patch 2: S, B, L or XL (default: ${DEFAULT-VALUE}).")
    String model;

    @Option(
            names = "--row",
            defaultValue = "0",
            description = "Tokens per packed row (default: the longest example's).")
    int row;

    @Option(
            names = "--still-clip",
            paramLabel = "FxHxW",
            description = "Instead: one mostly still clip of F frames of H×W latents (a random scene, one 2×2 patch"
                    + " moving), all its patches against only those not nearly equal to the same place in the"
                    + " previous frame (cosine similarity at most --similarity).")
    String stillClip;

    @Option(
            names = "--similarity",
            defaultValue = "0.99",
            description = "The cosine similarity above which --still-clip drops a patch (default: ${DEFAULT-VALUE}).")
    double similarity;

    @Option(
            names = "--train",
            description = "Time a training step instead of a forward: the loss Σ r·out over the examples' tokens"
                    + " (r random) and its gradients with respect to every weight.")
    boolean train;

    @Option(names = "--runs", defaultValue = "3", description = "Timed forwards each (default: ${DEFAULT-VALUE}).")
    int runs;

    @Option(names = "--threads", defaultValue = "0", description = "CPU threads (default: all processors).")
    int threads;

    @Override
    public void run() {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        String config = switch (model.toUpperCase(Locale.ROOT)) {
            case "S" -> "hidden_size = 384, depth = 12, num_heads = 6";
            case "B" -> "hidden_size = 768, depth = 12, num_heads = 12";
            case "L" -> "hidden_size = 1024, depth = 24, num_heads = 16";
            case "XL" -> "hidden_size = 1152, depth = 28, num_heads = 16";
            default -> throw new IllegalArgumentException("--model: S, B, L or XL, got " + model);
        };
        int hidden = Integer.parseInt(config.replaceAll("hidden_size = (\\d+).*", "$1"));
        if (runs < 1) {
            throw new IllegalArgumentException("--runs: at least 1, got " + runs);
        }
        SplittableRandom random = new SplittableRandom(0);
        if (stillClip != null) {
            still(out, err, random, config, hidden);
            return;
        }
        List<Tensor> examples = new ArrayList<>();
        for (String s : sizes) {
            int[] hw = BenchCommand.parseDims(s, 2, "HxW");
            float[] v = new float[4 * hw[0] * hw[1]];
            for (int i = 0; i < v.length; i++) {
                v[i] = (float) random.nextGaussian();
            }
            examples.add(Tensor.of(v, 4, hw[0], hw[1]));
        }
        Patches.Packed padded = Patches.padded(examples, 1, 2);
        Patches.Packed packed =
                Patches.pack(examples, 1, 2, row > 0 ? row : padded.plan().rowLength());
        long real = packed.plan().usedTokens();
        out.printf(
                Locale.ROOT,
                "DiT-%s/2 (PackedDiT, random weights), %d latents, %d tokens of them, %s:%n",
                model.toUpperCase(Locale.ROOT),
                examples.size(),
                real,
                train ? "one training step (forward and gradients)" : "one forward");
        out.printf(Locale.ROOT, "%-8s %12s %10s %10s%n", "batch", "rows×length", "tokens", "ms");
        double[] ms = new double[2];
        Patches.Packed[] modes = {padded, packed};
        try {
            Path dir = Files.createTempDirectory("tessera-packed-bench");
            try {
                for (int m = 0; m < 2; m++) {
                    err.printf(Locale.ROOT, "%s: compiling and running ...%n", m == 0 ? "padded" : "packed");
                    err.flush();
                    String mode = m == 0 ? "padded" : "packed";
                    ms[m] = train
                            ? timeStep(dir, mode, modes[m], config, hidden, examples.size())
                            : time(dir, mode, modes[m], config, hidden, examples.size());
                    Patches.Packed p = modes[m];
                    out.printf(
                            Locale.ROOT,
                            "%-8s %12s %10d %10.1f%n",
                            m == 0 ? "padded" : "packed",
                            p.plan().rows() + "×" + p.plan().rowLength(),
                            (long) p.plan().rows() * p.plan().rowLength(),
                            ms[m]);
                }
            } finally {
                try (var files = Files.walk(dir)) {
                    files.sorted(java.util.Comparator.reverseOrder())
                            .forEach(f -> f.toFile().delete());
                }
            }
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        out.printf(
                Locale.ROOT,
                "packed / padded: %.2f of the tokens, %.2f of the time%n",
                (double) packed.plan().rows()
                        * packed.plan().rowLength()
                        / ((double) padded.plan().rows() * padded.plan().rowLength()),
                ms[1] / ms[0]);
    }

    /** One mostly still clip, all its patches against those similarity dropping keeps. */
    private void still(PrintWriter out, PrintWriter err, SplittableRandom random, String config, int hidden) {
        int[] fhw = BenchCommand.parseDims(stillClip, 3, "FxHxW");
        int f = fhw[0];
        int h = fhw[1];
        int w = fhw[2];
        if (h < 2 || w < 2 || h % 2 != 0 || w % 2 != 0) {
            throw new IllegalArgumentException("--still-clip: H and W must be even (patches of 2), got " + stillClip);
        }
        float[] scene = new float[4 * h * w];
        for (int i = 0; i < scene.length; i++) {
            scene[i] = (float) random.nextGaussian();
        }
        float[] v = new float[4 * f * h * w];
        for (int ch = 0; ch < 4; ch++) {
            for (int t = 0; t < f; t++) {
                System.arraycopy(scene, ch * h * w, v, (ch * f + t) * h * w, h * w);
                // a 2×2 patch of noise that moves one patch to the right each frame
                int x0 = (2 * t) % w;
                for (int y = 0; y < 2; y++) {
                    for (int x = 0; x < 2; x++) {
                        v[((ch * f + t) * h + y) * w + x0 + x] = (float) random.nextGaussian();
                    }
                }
            }
        }
        List<Tensor> clip = List.of(Tensor.of(v, 4, f, h, w));
        err.println("timing the clip with all its patches, then with the kept ones ...");
        err.flush();
        Patches.Packed all = Patches.padded(clip, 1, 2);
        var dropping = new org.tessera.engine.packing.TokenDropping.Similar(similarity);
        // a row as long as the kept patches: what the dropping saves is the tokens a forward processes
        int keptTokens = (int) Patches.pack(clip, 1, 2, all.plan().rowLength(), dropping)
                .plan()
                .usedTokens();
        Patches.Packed kept = Patches.pack(clip, 1, 2, keptTokens, dropping);
        out.printf(
                Locale.ROOT,
                "DiT-%s/2 (PackedDiT, random weights), a still clip of %d frames of %d×%d latents:%n",
                model.toUpperCase(Locale.ROOT),
                f,
                h,
                w);
        out.printf(Locale.ROOT, "%-10s %10s %10s%n", "patches", "tokens", "ms");
        double[] ms = new double[2];
        try {
            Path dir = Files.createTempDirectory("tessera-packed-bench");
            try {
                ms[0] = time(dir, "all", all, config, hidden, 1);
                out.printf(Locale.ROOT, "%-10s %10d %10.1f%n", "all", all.plan().usedTokens(), ms[0]);
                ms[1] = time(dir, "kept", kept, config, hidden, 1);
                out.printf(
                        Locale.ROOT, "%-10s %10d %10.1f%n", "kept", kept.plan().usedTokens(), ms[1]);
            } finally {
                try (var files = Files.walk(dir)) {
                    files.sorted(java.util.Comparator.reverseOrder())
                            .forEach(x -> x.toFile().delete());
                }
            }
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        out.printf(
                Locale.ROOT,
                "similarity dropping (cos > %s) kept %d of %d patches (%.0f%%) and took %.0f%% of the"
                        + " time (%.1f ms saved)%n",
                similarity,
                kept.plan().usedTokens(),
                all.plan().usedTokens(),
                100.0 * kept.plan().usedTokens() / all.plan().usedTokens(),
                100 * ms[1] / ms[0],
                ms[0] - ms[1]);
    }

    /**
     * The best of {@link #runs} training steps over {@code rows}, after one untimed: the forward,
     * the loss Σ r·out (r random on the examples' tokens, zero on padding) and its gradients with
     * respect to every learned weight, as a train stage differentiates it.
     */
    private double timeStep(Path dir, String name, Patches.Packed rows, String config, int hidden, int examples)
            throws IOException {
        Files.write(dir.resolve("unused.safetensors"), new byte[0]); // named by the script, never read
        Path script = Files.writeString(dir.resolve(name + "-step.tess"), """
                import "packed.tess"
                pipeline %s {
                    model   = PackedDiT(input_size = 32, patch_size = 2, in_channels = 4, learn_sigma = false, %s)
                    weights = random(seed = 0)
                    inputs  = load("unused.safetensors", tokens = "tokens", pos = "pos", gather = "gather",
                                   segments = "segments", t = "t", y = "y")
                    output "out.safetensors" = tensors(out)
                }
                """.formatted(name, config));
        ModelDefinition def = Script.load(script).pipeline(null, Map.of()).model("out");
        int r = rows.plan().rows();
        int l = rows.plan().rowLength();
        int dim = 2 * 2 * 4;
        Map<String, Tensor> in = forwardInputs(rows, hidden, examples);
        float[] weights = new float[r * l * dim];
        long[] seg = rows.segments().toLongArray();
        SplittableRandom random = new SplittableRandom(1);
        for (int i = 0; i < weights.length; i++) {
            weights[i] = seg[i / dim] < 0 ? 0f : (float) random.nextGaussian();
        }
        in.put("r", Tensor.of(Arena.ofAuto(), weights, r, l, dim));
        int n = threads > 0 ? threads : Runtime.getRuntime().availableProcessors();
        try (WorkerPool pool = new WorkerPool(n)) {
            Backend cpu = Backends.cpu(pool, m -> {});
            List<java.lang.foreign.Arena> arenas = new ArrayList<>();
            WeightSource source = WeightBinding.random(0, 0.02, cpu, arenas).source();
            GraphBuilder g = new GraphBuilder();
            List<Value> inputs = new ArrayList<>();
            for (String k : List.of("tokens", "pos", "gather", "segments", "t", "y")) {
                inputs.add(g.input(k, in.get(k).dtype(), in.get(k).shape()));
            }
            Value outValue = def.lowerTrainable(g, inputs, source, k -> true);
            Value weighted = g.mul(outValue, g.input("r", DType.F32, r, l, dim));
            g.output("loss", g.mulScalar(g.mean(g.mean(g.mean(weighted, 2), 1), 0), (float) r * l * dim));
            Map<String, int[]> learned = def.learnedWeightShapes();
            learned.forEach((k, shape) -> in.put(k, source.tensor(k, shape)));
            Graph step = Autodiff.differentiate(g.build(), "loss", learned.keySet());
            try (Execution run = Planner.compile(step, cpu).newExecution()) {
                run.run(in); // warm-up
                double best = Double.MAX_VALUE;
                for (int i = 0; i < runs; i++) {
                    long t0 = System.nanoTime();
                    run.run(in);
                    best = Math.min(best, (System.nanoTime() - t0) / 1e6);
                }
                return best;
            } finally {
                arenas.forEach(java.lang.foreign.Arena::close);
            }
        }
    }

    /** PackedDiT's inputs for {@code rows}: the tokens, their sin-cos positions and ids, t = 500, labels e mod 1000. */
    private static SequencedMap<String, Tensor> forwardInputs(Patches.Packed rows, int hidden, int examples) {
        SequencedMap<String, Tensor> in = new LinkedHashMap<>();
        in.put("tokens", rows.tokens());
        in.put("pos", Patches.sinCos2d(rows, hidden));
        in.put("gather", rows.gather());
        in.put("segments", rows.segments());
        float[] t = new float[examples];
        long[] y = new long[examples];
        for (int i = 0; i < examples; i++) {
            t[i] = 500;
            y[i] = i % 1000;
        }
        in.put("t", Tensor.of(Arena.ofAuto(), t, examples));
        in.put("y", Tensor.ofLongs(Arena.ofAuto(), y, examples));
        return in;
    }

    /** The best of {@link #runs} forwards over {@code rows}, after one untimed. */
    private double time(Path dir, String name, Patches.Packed rows, String config, int hidden, int examples)
            throws IOException {
        SequencedMap<String, Tensor> in = forwardInputs(rows, hidden, examples);
        Path inputs = dir.resolve(name + ".safetensors");
        SafetensorsWriter.write(inputs, in);
        Path script = Files.writeString(dir.resolve(name + ".tess"), """
                import "packed.tess"
                pipeline %s {
                    model   = PackedDiT(input_size = 32, patch_size = 2, in_channels = 4, %s)
                    weights = random(seed = 0)
                    inputs  = load("%s", tokens = "tokens", pos = "pos", gather = "gather", segments = "segments",
                                   t = "t", y = "y")
                    output "out.safetensors" = tensors(out)
                }
                """.formatted(name, config, inputs.getFileName()));
        CompileOptions options = CompileOptions.defaults();
        if (threads > 0) {
            options = options.withThreads(threads);
        }
        try (Pipeline p = Tessera.compile(script, options)) {
            p.runForward(); // warm-up: the JIT and first-touch of the buffers
            double best = Double.MAX_VALUE;
            for (int r = 0; r < runs; r++) {
                long t0 = System.nanoTime();
                p.runForward();
                best = Math.min(best, (System.nanoTime() - t0) / 1e6);
            }
            return best;
        }
    }
}
