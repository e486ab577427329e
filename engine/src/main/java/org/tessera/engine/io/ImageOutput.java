package org.tessera.engine.io;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageTypeSpecifier;
import javax.imageio.ImageWriteParam;
import javax.imageio.ImageWriter;
import javax.imageio.metadata.IIOMetadata;
import javax.imageio.metadata.IIOMetadataNode;
import javax.imageio.stream.ImageOutputStream;
import org.tessera.engine.tensor.Tensor;

/**
 * Writes samples in [−1, 1] as 8-bit PNG: x ↦ round((x + 1)/2 · 255), clamped. Three channels
 * are RGB, one is grey; any other count (e.g. 4-channel latents) shows each channel as a grey
 * tile, side by side. Written through an {@link OutputSet}: whole files, or none.
 */
public final class ImageOutput {
    private static final int PAD = 2;
    /** The largest grid: 2^27 pixels, half a gigabyte as ints (and far beyond what a viewer shows). */
    private static final long MAX_PIXELS = 1L << 27;

    static {
        // ImageIO caches streams in temporary files of java.io.tmpdir, which an interrupted run
        // would leave behind; PNGs of samples are small enough to encode in memory.
        ImageIO.setUseCache(false);
    }

    private ImageOutput() {}

    /** One PNG per sample: {@code name.png} becomes {@code name-0.png}, {@code name-1.png}, … */
    public static List<Path> perSample(Tensor samples, Path file) throws IOException {
        try (OutputSet set = OutputSet.open()) {
            perSample(samples, file, set);
            return set.commit();
        }
    }

    /** {@link #perSample(Tensor, Path)} into {@code set}: the files appear when it commits. */
    public static List<Path> perSample(Tensor samples, Path file, OutputSet set) throws IOException {
        return perSample(samples, file, set, Map.of());
    }

    /**
     * {@link #perSample(Tensor, Path, OutputSet)} with {@code text} (how the samples were made:
     * pipeline, seed, sampler, …) in each PNG's tEXt chunks, plus the sample's index.
     */
    public static List<Path> perSample(Tensor samples, Path file, OutputSet set, Map<String, String> text)
            throws IOException {
        return perSample(samples, null, file, set, text);
    }

    /**
     * {@link #perSample(Tensor, Path, OutputSet, Map)} of samples of several sizes in one batch
     * padded to the largest: sample i is cut to its own {@code sizes[i]} = [H, W] first (null: all
     * fill the batch).
     */
    public static List<Path> perSample(
            Tensor samples, int[][] sizes, Path file, OutputSet set, Map<String, String> text) throws IOException {
        if (sizes != null && sizes.length != samples.size(0)) {
            throw new IllegalArgumentException(sizes.length + " sizes for " + samples.size(0) + " samples");
        }
        List<Path> written = new ArrayList<>();
        String base = file.getFileName().toString().replaceFirst("\\.png$", "");
        for (int i = 0; i < samples.size(0); i++) {
            Path p = file.resolveSibling(base + "-" + i + ".png");
            Map<String, String> chunks = new LinkedHashMap<>(text);
            if (!text.isEmpty()) {
                chunks.put("sample", Integer.toString(i));
            }
            Tensor sample = samples.select(0, i);
            if (sizes != null) {
                int[] hw = sizes[i];
                sample = sample.slice(sample.rank() - 2, 0, hw[hw.length - 2])
                        .slice(sample.rank() - 1, 0, hw[hw.length - 1])
                        .contiguous();
            }
            write(image(sample), p, set, chunks);
            written.add(p);
        }
        return written;
    }

    /** All samples tiled in a near-square grid with a 2-pixel gap. */
    public static Path grid(Tensor samples, Path file) throws IOException {
        try (OutputSet set = OutputSet.open()) {
            grid(samples, file, set);
            set.commit();
            return file;
        }
    }

    /** {@link #grid(Tensor, Path)} into {@code set}: the file appears when it commits. */
    public static Path grid(Tensor samples, Path file, OutputSet set) throws IOException {
        return grid(samples, file, set, 0, 1);
    }

    /**
     * {@link #grid(Tensor, Path, OutputSet)} with {@code columns} samples per row (0: about the
     * square root of their count) and each pixel drawn as a {@code scale}×{@code scale} block, so
     * that 28-pixel images can be seen on a page.
     */
    public static Path grid(Tensor samples, Path file, OutputSet set, int columns, int scale) throws IOException {
        return grid(samples, file, set, columns, scale, Map.of());
    }

    /** {@link #grid(Tensor, Path, OutputSet, int, int)} with {@code text} in the PNG's tEXt chunks. */
    public static Path grid(Tensor samples, Path file, OutputSet set, int columns, int scale, Map<String, String> text)
            throws IOException {
        return grid(samples, file, set, columns, scale, null, text);
    }

    /**
     * {@link #grid(Tensor, Path, OutputSet, int, int, Map)} with {@code labels} (one per sample,
     * or null) written under each tile in a 5×7 pixel font ({@link TinyFont}), cut to the tile's width.
     */
    public static Path grid(
            Tensor samples,
            Path file,
            OutputSet set,
            int columns,
            int scale,
            List<String> labels,
            Map<String, String> text)
            throws IOException {
        int n = samples.size(0);
        if (n == 0) {
            throw new IllegalArgumentException("grid " + file.getFileName() + ": no samples to tile");
        }
        if (labels != null && labels.size() != n) {
            throw new IllegalArgumentException(
                    "grid " + file.getFileName() + ": " + labels.size() + " labels for " + n + " samples");
        }
        List<BufferedImage> tiles = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            tiles.add(image(samples.select(0, i)));
        }
        int h = tiles.get(0).getHeight() * scale;
        int w = tiles.get(0).getWidth() * scale; // several tiles wide when each channel is shown
        // labels in font pixels of about a twentieth of the tile's height, at least one
        int fontScale = Math.max(1, h / (20 * TinyFont.HEIGHT));
        int band = labels == null ? 0 : (TinyFont.HEIGHT + 3) * fontScale;
        int cols = columns > 0 ? Math.min(columns, n) : (int) Math.ceil(Math.sqrt(n));
        int rows = (n + cols - 1) / cols;
        long width = (long) cols * (w + PAD) + PAD;
        long height = (long) rows * (h + band + PAD) + PAD;
        if (width * height > MAX_PIXELS) {
            throw new IllegalArgumentException("grid " + file.getFileName() + " would be " + width + "×" + height
                    + " pixels, more than " + MAX_PIXELS + "; tile fewer samples or a smaller scale");
        }
        BufferedImage grid = new BufferedImage((int) width, (int) height, BufferedImage.TYPE_INT_RGB);
        java.awt.Graphics g = grid.getGraphics();
        for (int i = 0; i < n; i++) {
            int x = PAD + (i % cols) * (w + PAD);
            int y = PAD + (i / cols) * (h + band + PAD);
            // drawImage scales by nearest neighbour unless asked otherwise: pixels stay sharp blocks
            g.drawImage(tiles.get(i), x, y, w, h, null);
            if (labels != null && labels.get(i) != null) {
                String label = labels.get(i);
                int fits = Math.max(0, (w / fontScale + 1) / TinyFont.ADVANCE);
                label = label.length() > fits ? label.substring(0, fits) : label;
                int lx = x + (w - TinyFont.width(label, fontScale)) / 2;
                TinyFont.draw(grid, label, lx, y + h + 2 * fontScale, fontScale, 0xFFFFFF);
            }
        }
        g.dispose();
        write(grid, file, set, text);
        return file;
    }

    /**
     * Encodes {@code image} as PNG with {@code text} as tEXt chunks (keyword = value, Latin-1 as the
     * format wants; {@link PngText} reads them back).
     */
    private static void write(BufferedImage image, Path file, OutputSet set, Map<String, String> text)
            throws IOException {
        Path tmp = set.stage(file);
        ImageWriter writer = ImageIO.getImageWritersByFormatName("png").next();
        try (OutputStream out = Files.newOutputStream(tmp);
                ImageOutputStream stream = ImageIO.createImageOutputStream(out)) {
            ImageWriteParam param = writer.getDefaultWriteParam();
            IIOMetadata metadata =
                    writer.getDefaultImageMetadata(ImageTypeSpecifier.createFromRenderedImage(image), param);
            if (!text.isEmpty()) {
                IIOMetadataNode tEXt = new IIOMetadataNode("tEXt");
                text.forEach((k, v) -> {
                    IIOMetadataNode entry = new IIOMetadataNode("tEXtEntry");
                    entry.setAttribute("keyword", PngText.keyword(k));
                    entry.setAttribute("value", latin1(v));
                    tEXt.appendChild(entry);
                });
                IIOMetadataNode root = new IIOMetadataNode(PngText.NATIVE_FORMAT);
                root.appendChild(tEXt);
                metadata.mergeTree(PngText.NATIVE_FORMAT, root);
            }
            writer.setOutput(stream);
            writer.write(null, new IIOImage(image, null, metadata), param);
        } finally {
            writer.dispose();
        }
    }

    /** tEXt holds Latin-1: other characters become '?'. */
    private static String latin1(String s) {
        StringBuilder sb = new StringBuilder(s.length());
        for (char c : s.toCharArray()) {
            sb.append(c <= 255 ? c : '?');
        }
        return sb.toString();
    }

    /**
     * One [C, H, W] sample as an image: grey for one channel, RGB for three, and otherwise every
     * channel as a grey tile, side by side with a 2-pixel gap (4-channel latents thus show each
     * channel; {@link LatentPreview} gives them approximate colours instead).
     */
    static BufferedImage image(Tensor chw) {
        int c = chw.size(0);
        int h = chw.size(1);
        int w = chw.size(2);
        if (c == 1 || c == 3) {
            BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    int r = to8(chw.getFloat(0, y, x));
                    int g = c == 3 ? to8(chw.getFloat(1, y, x)) : r;
                    int b = c == 3 ? to8(chw.getFloat(2, y, x)) : r;
                    img.setRGB(x, y, (r << 16) | (g << 8) | b);
                }
            }
            return img;
        }
        BufferedImage strip = new BufferedImage(c * (w + PAD) - PAD, h, BufferedImage.TYPE_INT_RGB);
        for (int ch = 0; ch < c; ch++) {
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    strip.setRGB(ch * (w + PAD) + x, y, to8(chw.getFloat(ch, y, x)) * 0x010101);
                }
            }
        }
        return strip;
    }

    static int to8(float v) {
        if (Float.isNaN(v)) {
            return 0;
        }
        return (int) Math.max(0, Math.min(255, Math.round((v + 1f) * 127.5f)));
    }
}
