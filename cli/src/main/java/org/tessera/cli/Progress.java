package org.tessera.cli;

import java.io.PrintWriter;
import java.util.Locale;
import org.tessera.engine.diffusion.StepCallback;
import org.tessera.engine.tensor.Tensor;

/**
 * Sampler progress: a redrawn bar with step, steps/s and ETA on a terminal; plain lines otherwise
 * (logs, CI), at most one per second plus the last.
 */
final class Progress implements StepCallback {
    private final PrintWriter err;
    private final boolean terminal;
    private long start = System.nanoTime();
    private long lastPrint;
    private long firstDone;
    private String label = "sampling";

    /**
     * Whether stderr is a terminal, where the bar can be redrawn in place: the launcher says so
     * with {@code -Dtessera.progress=bar|lines} (it filters stderr through a pipe, so Java cannot
     * tell); otherwise the console decides.
     */
    static boolean onTerminal() {
        String mode = System.getProperty("tessera.progress");
        if (mode != null) {
            return mode.equals("bar");
        }
        java.io.Console console = System.console();
        return console != null && console.isTerminal();
    }

    Progress(PrintWriter err, boolean terminal) {
        this.err = err;
        this.terminal = terminal;
    }

    @Override
    public void onStage(String stage, int index, int count) {
        start = System.nanoTime();
        lastPrint = 0;
        label = String.format(Locale.ROOT, "stage %s (%d/%d)", stage, index + 1, count);
    }

    @Override
    public void onSegment(int index, int count) {
        start = System.nanoTime();
        lastPrint = 0;
        String stage = label.contains(", segment") ? label.substring(0, label.indexOf(", segment")) : label;
        label = String.format(Locale.ROOT, "%s, segment %d/%d", stage, index + 1, count);
    }

    @Override
    public void onReport(String stage, String report) {
        err.println("stage " + stage + ": " + report);
        err.flush();
    }

    @Override
    public void onStep(int step, int total, int timestep, Tensor x, Tensor predictedX0) {
        long now = System.nanoTime();
        int done = step + 1;
        if (step == 0) {
            firstDone = now;
        }
        // The first step also pays for compiling the kernels and the step plans: the rate and the
        // ETA count from the end of it, once there is a later step to time.
        double rate = done == 1
                ? 1 / Math.max((now - start) / 1e9, 1e-9)
                : (done - 1) / Math.max((now - firstDone) / 1e9, 1e-9);
        String eta = done == 1 && total > 1 ? "…" : formatSeconds((total - done) / Math.max(rate, 1e-9));
        String stats =
                String.format(Locale.ROOT, "step %d/%d  t=%d  %.2f steps/s  ETA %s", done, total, timestep, rate, eta);
        if (terminal) {
            int width = 30;
            int filled = (int) Math.round(width * (double) done / total);
            err.print("\r" + label + " [" + "#".repeat(filled) + ".".repeat(width - filled) + "] " + stats + "   ");
            if (done == total) {
                err.println();
            }
            err.flush();
        } else if (done == total || now - lastPrint >= 1_000_000_000L) {
            lastPrint = now;
            err.println(label + ": " + stats);
            err.flush();
        }
    }

    static String formatSeconds(double s) {
        if (s < 60) {
            return String.format(Locale.ROOT, "%.1fs", s);
        }
        if (s < 3600) {
            return String.format(Locale.ROOT, "%dm%02ds", (long) s / 60, (long) s % 60);
        }
        return String.format(Locale.ROOT, "%dh%02dm", (long) s / 3600, (long) s / 60 % 60);
    }
}
