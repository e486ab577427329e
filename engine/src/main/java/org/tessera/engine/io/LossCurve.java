package org.tessera.engine.io;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.OutputStream;
import java.math.BigDecimal;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;
import javax.imageio.ImageIO;

/**
 * A training run's loss as a PNG line chart: the mean loss of each window of steps against the
 * step, on a logarithmic loss axis (a diffusion loss falls by orders of magnitude early and then
 * slowly), with light lines at round values of the loss, labelled, and the steps under the axis.
 * The labels are drawn with {@link TinyFont}, so the chart needs no system fonts.
 */
public final class LossCurve {
    private static final int WIDTH = 720;
    private static final int HEIGHT = 360;
    private static final int LEFT = 56;
    private static final int RIGHT = 24;
    private static final int TOP = 24;
    private static final int BOTTOM = 40;
    private static final int GRID_RGB = 0xdddddd;
    private static final int TEXT_RGB = 0x555555;

    private LossCurve() {}

    /**
     * Draws {@code losses} (window means, in order; each covers {@code window} steps) into
     * {@code file}, through {@code set}.
     */
    public static void write(double[] losses, int window, Path file, OutputSet set) throws IOException {
        BufferedImage img = draw(losses, window);
        Path tmp = set.stage(file);
        try (OutputStream out = Files.newOutputStream(tmp)) {
            ImageIO.write(img, "png", out);
        }
    }

    /** The chart of {@link #write} as an image. */
    static BufferedImage draw(double[] losses, int window) {
        BufferedImage img = new BufferedImage(WIDTH, HEIGHT, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, WIDTH, HEIGHT);
        int x0 = LEFT;
        int x1 = WIDTH - RIGHT;
        int y0 = HEIGHT - BOTTOM;
        int y1 = TOP;
        TinyFont.draw(img, "loss (mean of " + window + " steps)", x0, 8, 1, TEXT_RGB);
        int n = 0;
        double lo = Double.MAX_VALUE;
        double hi = -Double.MAX_VALUE;
        for (double v : losses) {
            if (v > 0 && Double.isFinite(v)) {
                lo = Math.min(lo, Math.log10(v));
                hi = Math.max(hi, Math.log10(v));
                n++;
            }
        }
        if (n >= 1) {
            if (hi - lo < 1e-6) {
                lo -= 0.5;
                hi += 0.5;
            }
            for (double tick : ticks(lo, hi)) {
                int y = y0 - (int) Math.round((y0 - y1) * (Math.log10(tick) - lo) / (hi - lo));
                g.setColor(new Color(GRID_RGB));
                g.drawLine(x0 + 1, y, x1 - 1, y);
                String label = label(tick);
                TinyFont.draw(img, label, x0 - 6 - TinyFont.width(label, 1), y - TinyFont.HEIGHT / 2, 1, TEXT_RGB);
            }
            g.setColor(new Color(0x1f77b4));
            g.setStroke(new BasicStroke(1.5f));
            int px = -1;
            int py = -1;
            for (int i = 0; i < losses.length; i++) {
                if (!(losses[i] > 0) || !Double.isFinite(losses[i])) {
                    continue;
                }
                int x = x0 + xOf(i, losses.length, x1 - x0);
                int y = y0 - (int) Math.round((y0 - y1) * (Math.log10(losses[i]) - lo) / (hi - lo));
                if (px >= 0) {
                    g.drawLine(px, py, x, y);
                }
                px = x;
                py = y;
            }
        }
        g.setColor(Color.GRAY);
        g.setStroke(new BasicStroke(1f));
        g.drawRect(x0, y1, x1 - x0, y0 - y1);
        g.dispose();
        // The steps under the axis: where the first and last windows end, and one between.
        if (losses.length > 0) {
            int last = losses.length - 1;
            for (int i : IntStream.of(0, last / 2, last).distinct().toArray()) {
                String label = "step " + (long) (i + 1) * window;
                int x = x0 + xOf(i, losses.length, x1 - x0) - TinyFont.width(label, 1) / 2;
                x = Math.max(2, Math.min(WIDTH - 2 - TinyFont.width(label, 1), x));
                TinyFont.draw(img, label, x, y0 + 8, 1, TEXT_RGB);
            }
        }
        return img;
    }

    /** The x offset of window i of n along a plot {@code span} pixels wide. */
    private static int xOf(int i, int n, int span) {
        return (int) Math.round(span * (n == 1 ? 0.5 : (double) i / (n - 1)));
    }

    /**
     * Round loss values between 10^lo and 10^hi to draw lines at: 1, 2 and 5 of each decade, only
     * the decades where that would crowd the chart, every digit where the range is narrow.
     */
    static List<Double> ticks(double lo, double hi) {
        List<Double> ticks = mantissas(lo, hi, new int[] {1, 2, 5});
        if (ticks.size() > 8) {
            ticks = mantissas(lo, hi, new int[] {1});
        } else if (ticks.size() < 3) {
            ticks = mantissas(lo, hi, new int[] {1, 2, 3, 4, 5, 6, 7, 8, 9});
        }
        return ticks;
    }

    private static List<Double> mantissas(double lo, double hi, int[] digits) {
        List<Double> out = new ArrayList<>();
        for (int d = (int) Math.floor(lo); d <= (int) Math.ceil(hi); d++) {
            for (int m : digits) {
                double v = m * Math.pow(10, d);
                double log = Math.log10(v);
                if (log >= lo - 1e-9 && log <= hi + 1e-9) {
                    out.add(v);
                }
            }
        }
        return out;
    }

    /** A tick's value as written on the chart: plain decimals from 0.001 to 1000, else m·e±d. */
    static String label(double v) {
        int d = (int) Math.floor(Math.log10(v) + 1e-9);
        long m = Math.round(v / Math.pow(10, d));
        if (d >= 0 && d <= 3) {
            return Long.toString(Math.round(v));
        }
        if (d < 0 && d >= -3) {
            return BigDecimal.valueOf(m).scaleByPowerOfTen(d).toPlainString();
        }
        return m + "e" + d;
    }
}
