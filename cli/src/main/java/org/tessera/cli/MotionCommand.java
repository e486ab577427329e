package org.tessera.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import org.tessera.engine.io.IdxReader;
import org.tessera.engine.io.MovingMnist;
import org.tessera.engine.io.WeightFile;
import org.tessera.engine.io.WeightsFormatException;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Tensor;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code tessera motion CLIPS}: do generated clips move as Moving MNIST clips do? Each clip's
 * motion is five numbers ({@link MovingMnist.Motion}): how far the centroid of its bright pixels
 * steps from frame to frame, how much consecutive frames' bright masks overlap, how much its
 * bright pixels hold together (digits are strokes, not specks), how much of a frame is bright
 * (digits on black, not noise), and how much of a frame's change a shift of the one before does
 * not explain (a thing that moves rather than one that turns into another). Real clips,
 * rendered from the MNIST digits, give the range (5th to 95th percentile) of each; the report is
 * the share of generated clips inside it — and, so that the reader can see the check tell things
 * apart, the same share for Gaussian noise and for still clips.
 */
@Command(
        name = "motion",
        mixinStandardHelpOptions = true,
        header = "Check that generated clips move as Moving MNIST clips do.",
        description = {
            "Measure each clip of CLIPS (a safetensors tensor [N, F, 1, H, W] in Latte's layout, or"
                    + " [N, 1, F, H, W]): the mean step of its bright pixels' centroid from frame to frame, the"
                    + " mean overlap (intersection over union) of consecutive frames' bright pixels, their"
                    + " coherence (the share with at least two bright neighbours: strokes, not specks), the ink"
                    + " (the share of a frame's pixels that are bright: digits on black, not noise), and the"
                    + " change that moving does not explain (the smallest mean difference between a frame and the"
                    + " one before shifted by up to 4 pixels).",
            "Real Moving MNIST clips made from --digits give the 5th–95th percentile range of the first four;"
                    + " the report is the share of clips inside those ranges, for the generated clips, for real"
                    + " ones, for Gaussian noise, for still clips and for clips of unrelated frames, and the median"
                    + " change of each."
        })
final class MotionCommand implements java.util.concurrent.Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", paramLabel = "CLIPS", description = "A safetensors file of clips in [−1, 1].")
    Path clips;

    @Option(
            names = "--tensor",
            paramLabel = "NAME",
            description = "The tensor of the clips (default: samples, or the file's only tensor).")
    String tensor;

    @Option(
            names = "--digits",
            paramLabel = "IDX",
            defaultValue = "/usr/share/datasets/mnist/train-images-idx3-ubyte",
            description = "MNIST images (IDX) for the real clips (default: ${DEFAULT-VALUE}).")
    Path digits;

    @Option(names = "--real", defaultValue = "500", description = "Real clips to measure (default: ${DEFAULT-VALUE}).")
    int real;

    @Option(names = "--objects", defaultValue = "2", description = "Digits in a real clip (default: ${DEFAULT-VALUE}).")
    int objects;

    @Option(
            names = "--frame",
            paramLabel = "SIDE",
            description = "Make the real clips at SIDE×SIDE and shrink them to the clips' size by area averaging,"
                    + " as moving_mnist(..., frame = SIDE) trains (default: at the clips' own size).")
    Integer frame;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        float[] generated;
        int n;
        int frames;
        int size;
        try (WeightFile f = WeightFile.open(clips)) {
            String name = tensor != null
                    ? tensor
                    : f.contains("samples")
                            ? "samples"
                            : f.names().size() == 1 ? f.names().getFirst() : null;
            if (name == null || !f.contains(name)) {
                err.println("tessera: error: " + clips + ": no tensor "
                        + (name == null
                                ? "named samples (give --tensor; it holds " + f.names() + ")"
                                : "'" + name + "'"));
                return TesseraCommand.EXIT_USAGE;
            }
            Tensor t = f.tensor(name);
            int[] s = t.shape();
            if (s.length != 5 || s[3] != s[4] || (s[2] != 1 && s[1] != 1)) {
                err.println("tessera: error: " + clips + ": '" + name + "' is " + Arrays.toString(s)
                        + "; clips are [N, F, 1, H, H] (Latte's layout) or [N, 1, F, H, H]");
                return TesseraCommand.EXIT_USAGE;
            }
            Tensor frameMajor = s[2] == 1 ? t : t.permute(0, 2, 1, 3, 4);
            n = s[0];
            frames = frameMajor.size(1);
            size = s[3];
            generated = (t.dtype() == DType.F32 ? frameMajor : frameMajor.to(DType.F32, Arena.ofAuto())).toFloatArray();
        } catch (IOException | WeightsFormatException e) {
            err.println("tessera: error: " + TesseraCommand.describe(e));
            return TesseraCommand.EXIT_USAGE;
        }
        int made = frame == null ? size : frame;
        if (frames < 2 || made < MovingMnist.DIGIT || made % size != 0) {
            err.println("tessera: error: clips of " + frames + " frames of " + size + "×" + size + " pixels"
                    + (frame == null ? "" : " made at " + made + "×" + made)
                    + "; motion needs 2 frames or more, made at least 28×28 (--frame) and shrunk by a whole factor");
            return TesseraCommand.EXIT_USAGE;
        }
        IdxReader.Idx idx;
        try {
            idx = IdxReader.read(digits);
        } catch (IOException e) {
            err.println("tessera: error: " + TesseraCommand.describe(e)
                    + " (the real clips need MNIST: scripts/install-datasets mnist, or --digits)");
            return TesseraCommand.EXIT_USAGE;
        }
        int clipFloats = frames * size * size;
        MemorySegment one = MemorySegment.ofArray(new float[clipFloats]);
        List<MovingMnist.Motion> realMotion = new ArrayList<>();
        List<MovingMnist.Motion> still = new ArrayList<>();
        for (int i = 0; i < real; i++) {
            MovingMnist.render(idx.data(), idx.shape()[0], 20261206, i, frames, made, size, objects, one, 0);
            realMotion.add(MovingMnist.motion(one, 0, frames, size));
            if (i < n) {
                for (int f = 1; f < frames; f++) { // the first frame held: a still clip
                    MemorySegment.copy(one, 0, one, 4L * f * size * size, 4L * size * size);
                }
                still.add(MovingMnist.motion(one, 0, frames, size));
            }
        }
        // Frames of unrelated clips put together: each frame a real picture, none following another
        List<MovingMnist.Motion> unrelated = new ArrayList<>();
        MemorySegment other = MemorySegment.ofArray(new float[clipFloats]);
        for (int i = 0; i < n; i++) {
            for (int f = 0; f < frames; f++) {
                MovingMnist.render(
                        idx.data(),
                        idx.shape()[0],
                        20261206,
                        real + (long) i * frames + f,
                        frames,
                        made,
                        size,
                        objects,
                        other,
                        0);
                MemorySegment.copy(other, 4L * f * size * size, one, 4L * f * size * size, 4L * size * size);
            }
            unrelated.add(MovingMnist.motion(one, 0, frames, size));
        }
        List<MovingMnist.Motion> gen = new ArrayList<>();
        MemorySegment all = MemorySegment.ofArray(generated);
        for (int i = 0; i < n; i++) {
            gen.add(MovingMnist.motion(all, 4L * i * clipFloats, frames, size));
        }
        SplittableRandom random = new SplittableRandom(7);
        List<MovingMnist.Motion> noise = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < clipFloats; j++) {
                one.setAtIndex(ValueLayout.JAVA_FLOAT, j, (float) random.nextGaussian());
            }
            noise.add(MovingMnist.motion(one, 0, frames, size));
        }
        double[] steps = sorted(realMotion, MovingMnist.Motion::step);
        double[] overlaps = sorted(realMotion, MovingMnist.Motion::overlap);
        double[] coherence = sorted(realMotion, MovingMnist.Motion::coherence);
        double[] change = sorted(realMotion, MovingMnist.Motion::change);
        double[] ink = sorted(realMotion, MovingMnist.Motion::ink);
        MovingMnist.Motion lo = new MovingMnist.Motion(
                percentile(steps, 5),
                percentile(overlaps, 5),
                percentile(coherence, 5),
                percentile(change, 5),
                percentile(ink, 5));
        MovingMnist.Motion hi = new MovingMnist.Motion(
                percentile(steps, 95),
                percentile(overlaps, 95),
                percentile(coherence, 95),
                percentile(change, 95),
                percentile(ink, 95));
        out.printf(
                Locale.ROOT,
                "real Moving MNIST (%d clips of %d frames, %d×%d, %d digits): centroid step median %.2f px"
                        + " (5th–95th percentile %.2f–%.2f), overlap median %.2f (%.2f–%.2f), coherence median %.2f"
                        + " (%.2f–%.2f), ink median %.3f (%.3f–%.3f), change median %.3f (%.3f–%.3f)%n",
                real,
                frames,
                size,
                size,
                objects,
                percentile(steps, 50),
                lo.step(),
                hi.step(),
                percentile(overlaps, 50),
                lo.overlap(),
                hi.overlap(),
                percentile(coherence, 50),
                lo.coherence(),
                hi.coherence(),
                percentile(ink, 50),
                lo.ink(),
                hi.ink(),
                percentile(change, 50),
                lo.change(),
                hi.change());
        double[] gs = sorted(gen, MovingMnist.Motion::step);
        out.printf(
                Locale.ROOT,
                "generated (%s, %d clips): centroid step median %.2f px, overlap median %.2f, coherence median"
                        + " %.2f, ink median %.3f, change median %.3f%s%n",
                clips.getFileName(),
                n,
                percentile(gs, 50),
                percentile(sorted(gen, MovingMnist.Motion::overlap), 50),
                percentile(sorted(gen, MovingMnist.Motion::coherence), 50),
                percentile(sorted(gen, MovingMnist.Motion::ink), 50),
                percentile(sorted(gen, MovingMnist.Motion::change), 50),
                gs.length < n ? " (" + (n - gs.length) + " clips have a frame with no bright pixel)" : "");
        out.println("moving as real clips do (step, overlap, coherence and ink inside the real clips' 5th–95th"
                + " percentile range):");
        report(out, "generated", gen, lo, hi, "");
        misses(out, gen, lo, hi);
        report(out, "real", realMotion, lo, hi, " (fewer than all by construction: each range holds 90% of them)");
        report(out, "noise", noise, lo, hi, " (Gaussian noise clips)");
        report(out, "still", still, lo, hi, " (real clips' first frame held)");
        report(out, "unrelated", unrelated, lo, hi, " (each frame from another real clip)");
        out.printf(
                Locale.ROOT,
                "change a shift of the frame before does not explain (median; 0 for a thing that moves): generated"
                        + " %.3f, real %.3f, unrelated frames %.3f, noise %.3f, still %.3f%n",
                percentile(sorted(gen, MovingMnist.Motion::change), 50),
                percentile(change, 50),
                percentile(sorted(unrelated, MovingMnist.Motion::change), 50),
                percentile(sorted(noise, MovingMnist.Motion::change), 50),
                percentile(sorted(still, MovingMnist.Motion::change), 50));
        return TesseraCommand.EXIT_OK;
    }

    private static void report(
            PrintWriter out,
            String what,
            List<MovingMnist.Motion> ms,
            MovingMnist.Motion lo,
            MovingMnist.Motion hi,
            String note) {
        long inside = ms.stream().filter(m -> m.within(lo, hi)).count();
        out.printf(
                Locale.ROOT,
                "  %-10s %4d of %4d (%3.0f%%)%s%n",
                what,
                inside,
                ms.size(),
                ms.isEmpty() ? 0.0 : 100.0 * inside / ms.size(),
                note);
    }

    /**
     * Which ranges the generated clips miss, and on which side: "step 12 (10 above, 2 below)". A
     * clip may miss several, so the counts can add up to more than the clips outside.
     */
    private static void misses(
            PrintWriter out, List<MovingMnist.Motion> gen, MovingMnist.Motion lo, MovingMnist.Motion hi) {
        List<String> parts = new ArrayList<>();
        miss(parts, "step", gen, MovingMnist.Motion::step, lo.step(), hi.step());
        miss(parts, "overlap", gen, MovingMnist.Motion::overlap, lo.overlap(), hi.overlap());
        miss(parts, "coherence", gen, MovingMnist.Motion::coherence, lo.coherence(), hi.coherence());
        miss(parts, "ink", gen, MovingMnist.Motion::ink, lo.ink(), hi.ink());
        out.println("    outside the range of: " + (parts.isEmpty() ? "none" : String.join(", ", parts)));
    }

    private static void miss(
            List<String> parts,
            String name,
            List<MovingMnist.Motion> ms,
            java.util.function.ToDoubleFunction<MovingMnist.Motion> f,
            double lo,
            double hi) {
        long above = ms.stream().mapToDouble(f).filter(v -> v > hi).count();
        // NaN (a frame with no bright pixel) is outside every range, counted as below
        long below =
                ms.stream().mapToDouble(f).filter(v -> !(v >= lo) && !(v > hi)).count();
        if (above + below > 0) {
            parts.add(name + " " + (above + below) + " (" + above + " above, " + below + " below)");
        }
    }

    private static double[] sorted(
            List<MovingMnist.Motion> ms, java.util.function.ToDoubleFunction<MovingMnist.Motion> f) {
        return ms.stream().mapToDouble(f).filter(Double::isFinite).sorted().toArray();
    }

    /** The p-th percentile of sorted values, by the nearest rank (NaN for none). */
    private static double percentile(double[] sorted, double p) {
        if (sorted.length == 0) {
            return Double.NaN;
        }
        int rank = (int) Math.ceil(p / 100.0 * sorted.length);
        return sorted[Math.clamp(rank - 1, 0, sorted.length - 1)];
    }
}
