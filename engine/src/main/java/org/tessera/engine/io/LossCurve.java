package org.tessera.engine.io;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import javax.imageio.ImageIO;

/**
 * A training run's loss as a PNG line chart: the mean loss of each window of steps against the
 * step, on a logarithmic loss axis (a diffusion loss falls by orders of magnitude early and then
 * slowly) with a light line at each power of ten. No text: drawing it would need the system's fonts;
 * the values are in the checkpoint's metadata and the progress lines.
 */
public final class LossCurve {
    private static final int WIDTH = 720;
    private static final int HEIGHT = 360;
    private static final int MARGIN = 48;

    private LossCurve() {}

    /**
     * Draws {@code losses} (window means, in order; each covers {@code window} steps) into
     * {@code file}, through {@code set}.
     */
    public static void write(double[] losses, int window, Path file, OutputSet set) throws IOException {
        BufferedImage img = new BufferedImage(WIDTH, HEIGHT, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, WIDTH, HEIGHT);
        g.setColor(Color.GRAY);
        g.drawRect(MARGIN, MARGIN / 2, WIDTH - MARGIN * 3 / 2, HEIGHT - MARGIN * 3 / 2);
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
                hi = lo + 1;
            }
            int x0 = MARGIN;
            int x1 = WIDTH - MARGIN / 2;
            int y0 = HEIGHT - MARGIN;
            int y1 = MARGIN / 2;
            // Decades of the log axis as light lines; no text, which would need the system's fonts.
            g.setColor(new Color(0xdddddd));
            for (int d = (int) Math.ceil(lo); d <= Math.floor(hi); d++) {
                int y = y0 - (int) Math.round((y0 - y1) * (d - lo) / (hi - lo));
                g.drawLine(x0 + 1, y, x1 - 1, y);
            }
            g.setColor(new Color(0x1f77b4));
            g.setStroke(new BasicStroke(1.5f));
            int px = -1;
            int py = -1;
            for (int i = 0; i < losses.length; i++) {
                if (!(losses[i] > 0) || !Double.isFinite(losses[i])) {
                    continue;
                }
                int x = x0
                        + (int) Math.round((x1 - x0) * (losses.length == 1 ? 0.5 : (double) i / (losses.length - 1)));
                int y = y0 - (int) Math.round((y0 - y1) * (Math.log10(losses[i]) - lo) / (hi - lo));
                if (px >= 0) {
                    g.drawLine(px, py, x, y);
                }
                px = x;
                py = y;
            }
        }
        g.dispose();
        Path tmp = set.stage(file);
        try (OutputStream out = Files.newOutputStream(tmp)) {
            ImageIO.write(img, "png", out);
        }
    }
}
