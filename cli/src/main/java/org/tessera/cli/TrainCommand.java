package org.tessera.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.tessera.runtime.CompileOptions;
import org.tessera.runtime.Tessera;
import org.tessera.runtime.TrainingListener;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code tessera train FILE}: run a pipeline's train stages, with checkpoints, resume and a loss curve. */
@Command(
        name = "train",
        mixinStandardHelpOptions = true,
        header = "Train the models of a .tess pipeline's train stages, with checkpoints and resume.",
        description = {
            "Train the models of a pipeline's train stages (let name = train(...)): progress with the loss,"
                    + " steps/s and ETA; a checkpoint and a loss curve (PNG) in the output folder every N steps.",
            "Run the same command again to resume from the checkpoint, exactly where it stopped; Ctrl-C (or"
                    + " SIGTERM, e.g. kill PID for a run in the background) writes one first. The trained (EMA)"
                    + " weights go to the outputs, weights(name)."
        })
final class TrainCommand implements java.util.concurrent.Callable<Integer> {
    /** The exit code of a run stopped by Ctrl-C or SIGTERM (128 + SIGINT, as a shell reports Ctrl-C). */
    static final int EXIT_INTERRUPTED = 130;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", paramLabel = "FILE", description = "The .tess script.")
    Path file;

    @Option(
            names = "--out",
            defaultValue = "out",
            description = "Output folder: outputs, checkpoints and loss curves (default: ${DEFAULT-VALUE}).")
    Path out;

    @Option(names = "--restart", description = "Start from the initial weights, ignoring a checkpoint in --out.")
    boolean restart;

    @Option(names = "--pipeline", description = "Which pipeline of the file (default: the first).")
    String pipeline;

    @Option(names = "--threads", defaultValue = "0", description = "CPU threads (default: all processors).")
    int threads;

    @Option(
            names = "--set",
            paramLabel = "KEY=VALUE",
            description = "Override a setting, e.g. --set dit.steps=200 or --set 'dit.optimizer=adamw(lr = 3e-4)'.")
    Map<String, String> overrides = new LinkedHashMap<>();

    @Override
    public Integer call() throws IOException {
        PrintWriter err = spec.commandLine().getErr();
        PrintWriter outWriter = spec.commandLine().getOut();
        CompileOptions options;
        try {
            options = CompileOptions.defaults()
                    .withThreads(threads)
                    .withPipeline(pipeline)
                    .withOverrides(overrides);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--" + e.getMessage(), e);
        }
        Tessera.checkWritable(out);
        Listener listener = new Listener(err, Progress.onTerminal());
        // Ctrl-C asks the run to write a checkpoint after its current step and stop, instead of
        // ending the JVM (whose shutdown would race the checkpoint); a second Ctrl-C ends it at once.
        // SIGTERM does the same, for runs in the background (where the shell ignores Ctrl-C's
        // SIGINT) and under job schedulers, which send it before they stop a job.
        List<sun.misc.Signal> signals = List.of(new sun.misc.Signal("INT"), new sun.misc.Signal("TERM"));
        List<sun.misc.SignalHandler> previous = new java.util.ArrayList<>();
        for (sun.misc.Signal signal : signals) {
            previous.add(sun.misc.Signal.handle(signal, s -> {
                if (listener.stop) {
                    Runtime.getRuntime().halt(128 + s.getNumber());
                }
                listener.stop = true;
                err.printf(
                        Locale.ROOT,
                        "%ntessera: stopping after this step, with a checkpoint (SIG%s again to quit now)%n",
                        s.getName());
                err.flush();
            }));
        }
        List<Path> files;
        try {
            files = Tessera.train(file, options, out, restart, listener);
        } finally {
            for (int i = 0; i < signals.size(); i++) {
                sun.misc.Signal.handle(signals.get(i), previous.get(i));
            }
        }
        if (files.isEmpty()) {
            err.printf(
                    Locale.ROOT,
                    "tessera: stopped after step %d; run the same command to resume from %s%n",
                    listener.step,
                    listener.checkpoint);
            return EXIT_INTERRUPTED;
        }
        for (Path f : files) {
            outWriter.println(f);
        }
        return TesseraCommand.EXIT_OK;
    }

    /** Progress lines (a redrawn line on a terminal): loss, a smoothed loss, steps/s, ETA. */
    private static final class Listener implements TrainingListener {
        private final PrintWriter err;
        private final boolean terminal;
        private volatile boolean stop;
        private long start;
        private long firstStep;
        private long lastPrint;
        private double smooth = Double.NaN;
        private long step;
        private int batch;
        private Path checkpoint;

        Listener(PrintWriter err, boolean terminal) {
            this.err = err;
            this.terminal = terminal;
        }

        @Override
        public void onPlan(String stage, String plan) {
            err.printf(Locale.ROOT, "train %s: %s%n", stage, plan);
        }

        @Override
        public void onStart(String stage, int batch, long firstStep, long total) {
            this.batch = batch;
        }

        @Override
        public void onStep(String stage, long step, long total, double loss, double learningRate) {
            long now = System.nanoTime();
            if (start == 0) {
                start = now; // the end of the first step
                firstStep = step;
                if (step > 1) {
                    err.printf(Locale.ROOT, "train %s: resuming at step %d of %d%n", stage, step, total);
                }
            }
            this.step = step;
            smooth = Double.isNaN(smooth) ? loss : 0.98 * smooth + 0.02 * loss;
            // Steps/s from the end of this process's first step (it carries the JIT's warm-up).
            double rate = step == firstStep ? Double.NaN : (step - firstStep) / Math.max((now - start) / 1e9, 1e-9);
            String line = String.format(
                    Locale.ROOT,
                    "train %s: step %d/%d  loss %.4f (smoothed %.4f)  lr %.2e  %s steps/s (%s samples/s)  ETA %s",
                    stage,
                    step,
                    total,
                    loss,
                    smooth,
                    learningRate,
                    Double.isNaN(rate) ? "…" : String.format(Locale.ROOT, "%.2f", rate),
                    Double.isNaN(rate) ? "…" : String.format(Locale.ROOT, "%.0f", rate * batch),
                    Double.isNaN(rate) ? "…" : Progress.formatSeconds((total - step) / Math.max(rate, 1e-9)));
            if (terminal) {
                err.print("\r" + line + "   ");
                if (step == total) {
                    err.println();
                }
                err.flush();
            } else if (step == total || now - lastPrint >= 10_000_000_000L) {
                lastPrint = now;
                err.println(line);
                err.flush();
            }
        }

        @Override
        public void onSamples(String stage, long step, Path file) {
            if (!terminal) {
                err.printf(Locale.ROOT, "train %s: samples at step %d: %s%n", stage, step, file);
                err.flush();
            }
        }

        @Override
        public void onTestAccuracy(String stage, long correct, long total, java.util.Map<Long, Double> byClass) {
            StringBuilder classes = new StringBuilder();
            byClass.forEach((k, share) -> classes.append(classes.isEmpty() ? "" : ", ")
                    .append(String.format(Locale.ROOT, "%d: %.0f%%", k, 100 * share)));
            err.printf(
                    Locale.ROOT,
                    "train %s: test accuracy %.2f%% (%d of %d held-out examples labelled correctly); by class %s%n",
                    stage,
                    100.0 * correct / total,
                    correct,
                    total,
                    classes);
            err.flush();
        }

        @Override
        public void onCheckpoint(String stage, long step, Path file) {
            checkpoint = file;
            if (!terminal) {
                err.printf(Locale.ROOT, "train %s: checkpoint at step %d: %s%n", stage, step, file);
                err.flush();
            }
        }

        @Override
        public boolean stopRequested() {
            return stop;
        }
    }
}
