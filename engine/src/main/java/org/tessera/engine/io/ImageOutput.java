package org.tessera.engine.io;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import javax.imageio.ImageIO;
import org.tessera.engine.tensor.Tensor;

/**
 * Writes samples in [−1, 1] as 8-bit PNG: x ↦ round((x + 1)/2 · 255), clamped. Three channels
 * are RGB, one is grey; other channel counts (e.g. 4-channel latents) show their first three.
 */
public final class ImageOutput {
    private static final int PAD = 2;

    private ImageOutput() {}

    /** One PNG per sample: {@code name.png} becomes {@code name-0.png}, {@code name-1.png}, … */
    public static List<Path> perSample(Tensor samples, Path file) throws IOException {
        List<Path> written = new ArrayList<>();
        String base = file.getFileName().toString().replaceFirst("\\.png$", "");
        for (int i = 0; i < samples.size(0); i++) {
            Path p = file.resolveSibling(base + "-" + i + ".png");
            BufferedImage img = image(samples.select(0, i));
            AtomicFiles.write(p, out -> ImageIO.write(img, "png", out));
            written.add(p);
        }
        return written;
    }

    /** All samples tiled in a near-square grid with a 2-pixel gap. */
    public static Path grid(Tensor samples, Path file) throws IOException {
        int n = samples.size(0);
        int h = samples.size(2);
        int w = samples.size(3);
        int cols = (int) Math.ceil(Math.sqrt(n));
        int rows = (n + cols - 1) / cols;
        BufferedImage grid =
                new BufferedImage(cols * (w + PAD) + PAD, rows * (h + PAD) + PAD, BufferedImage.TYPE_INT_RGB);
        for (int i = 0; i < n; i++) {
            BufferedImage tile = image(samples.select(0, i));
            grid.getGraphics().drawImage(tile, PAD + (i % cols) * (w + PAD), PAD + (i / cols) * (h + PAD), null);
        }
        AtomicFiles.write(file, out -> ImageIO.write(grid, "png", out));
        return file;
    }

    /** One [C, H, W] sample as an image. */
    static BufferedImage image(Tensor chw) {
        int c = chw.size(0);
        int h = chw.size(1);
        int w = chw.size(2);
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int r = to8(chw.getFloat(0, y, x));
                int g = c >= 3 ? to8(chw.getFloat(1, y, x)) : r;
                int b = c >= 3 ? to8(chw.getFloat(2, y, x)) : r;
                img.setRGB(x, y, (r << 16) | (g << 8) | b);
            }
        }
        return img;
    }

    static int to8(float v) {
        if (Float.isNaN(v)) {
            return 0;
        }
        return (int) Math.max(0, Math.min(255, Math.round((v + 1f) * 127.5f)));
    }
}
