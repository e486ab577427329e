package org.tessera.engine.io;

import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import javax.imageio.ImageIO;
import org.tessera.engine.tensor.Tensor;

/** One image file as a tensor, for img2img and the like: what ImageIO reads (PNG, JPEG, GIF, BMP). */
public final class ImageInput {
    private ImageInput() {}

    /**
     * {@code file} as [1, 3, H, W] in [−1, 1] (x/127.5 − 1 per 8-bit channel; grey becomes three
     * equal channels): centre-cropped to a square and resized to {@code size} (bicubic) when size
     * is above 0, else at its own size.
     *
     * @throws IOException naming the file when it cannot be read or is not an image
     */
    public static Tensor read(Path file, int size) throws IOException {
        BufferedImage img;
        try {
            img = ImageIO.read(file.toFile());
        } catch (IOException e) {
            throw new IOException("cannot read " + file + ": " + e.getMessage(), e);
        }
        if (img == null) {
            throw new IOException(file + " is not an image this Java reads (PNG, JPEG, GIF, BMP)");
        }
        if (size > 0) {
            int side = Math.min(img.getWidth(), img.getHeight());
            BufferedImage square =
                    img.getSubimage((img.getWidth() - side) / 2, (img.getHeight() - side) / 2, side, side);
            BufferedImage resized = new BufferedImage(size, size, BufferedImage.TYPE_INT_RGB);
            Graphics2D g = resized.createGraphics();
            g.setRenderingHint(RenderingHints.KEY_INTERPOLATION, RenderingHints.VALUE_INTERPOLATION_BICUBIC);
            g.drawImage(square, 0, 0, size, size, null);
            g.dispose();
            img = resized;
        }
        int h = img.getHeight();
        int w = img.getWidth();
        float[] v = new float[3 * h * w];
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int rgb = img.getRGB(x, y);
                v[y * w + x] = ((rgb >> 16) & 0xFF) / 127.5f - 1f;
                v[h * w + y * w + x] = ((rgb >> 8) & 0xFF) / 127.5f - 1f;
                v[2 * h * w + y * w + x] = (rgb & 0xFF) / 127.5f - 1f;
            }
        }
        return Tensor.of(v, 1, 3, h, w);
    }
}
