package org.tessera.engine.io;

import java.awt.Graphics2D;
import java.awt.Image;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;
import javax.imageio.ImageIO;

/**
 * A folder of PNG and JPEG images as a labelled training set, read as torchvision's
 * {@code ImageFolder} reads one: each sub-folder is a class, numbered in the order of the names; a
 * folder without sub-folders is one class, 0. Files are taken in name order. Each image is decoded
 * once, made grey (ITU-R 601 luma, as PIL's "L" computes it) or RGB, and scaled by area averaging so that it
 * covers height × width with its aspect ratio kept; a crop of exactly height × width is taken each
 * time it is drawn.
 */
public final class ImageFolder {
    /** At most this many images: a folder of more is better served by a streaming reader. */
    public static final int MAX_IMAGES = 1_000_000;

    /** One decoded image, scaled: {@code channels × height × width} bytes, channel-major. */
    public record Picture(byte[] pixels, int height, int width) {}

    /**
     * @param classes the class names (sub-folders), in label order; empty for a folder of one class
     * @param labels the label of each picture
     */
    public record Loaded(List<Picture> pictures, int[] labels, List<String> classes) {}

    private ImageFolder() {}

    /**
     * Reads every image of {@code folder}.
     *
     * @param channels 1 (grey) or 3 (RGB)
     * @throws IOException naming the folder when it holds no image, and the file when one cannot
     *     be decoded
     */
    public static Loaded read(Path folder, int channels, int height, int width) throws IOException {
        if (channels != 1 && channels != 3) {
            throw new IllegalArgumentException("images give 1 (grey) or 3 (RGB) channels, not " + channels);
        }
        if (!Files.isDirectory(folder)) {
            throw new IOException(folder + " is not a folder");
        }
        List<Path> classDirs;
        try (Stream<Path> s = Files.list(folder)) {
            classDirs = s.filter(Files::isDirectory).sorted().toList();
        }
        List<String> classes = new ArrayList<>();
        List<Path> files = new ArrayList<>();
        List<Integer> labels = new ArrayList<>();
        if (classDirs.isEmpty()) {
            for (Path f : images(folder)) {
                files.add(f);
                labels.add(0);
            }
        } else {
            for (Path dir : classDirs) {
                classes.add(dir.getFileName().toString());
                for (Path f : images(dir)) {
                    files.add(f);
                    labels.add(classes.size() - 1);
                }
            }
        }
        if (files.isEmpty()) {
            throw new IOException(folder + " holds no .png, .jpg or .jpeg image"
                    + (classDirs.isEmpty() ? "" : " in its sub-folders (one per class)"));
        }
        if (files.size() > MAX_IMAGES) {
            throw new IOException(folder + " holds " + files.size() + " images, more than " + MAX_IMAGES);
        }
        List<Picture> pictures = new ArrayList<>(files.size());
        for (Path f : files) {
            pictures.add(decode(f, channels, height, width));
        }
        return new Loaded(pictures, labels.stream().mapToInt(Integer::intValue).toArray(), classes);
    }

    private static List<Path> images(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(Files::isRegularFile)
                    .filter(p -> {
                        String n = p.getFileName().toString().toLowerCase(Locale.ROOT);
                        return n.endsWith(".png") || n.endsWith(".jpg") || n.endsWith(".jpeg");
                    })
                    .sorted()
                    .toList();
        }
    }

    /** One file, decoded, scaled to cover height × width, as channel-major bytes. */
    static Picture decode(Path file, int channels, int height, int width) throws IOException {
        BufferedImage image;
        try {
            image = ImageIO.read(file.toFile());
        } catch (IOException | RuntimeException e) { // ImageIO throws unchecked exceptions on some corrupt files
            throw new IOException(file + ": cannot decode the image (" + e.getMessage() + ")", e);
        }
        if (image == null || image.getWidth() < 1 || image.getHeight() < 1) {
            throw new IOException(file + ": not an image this Java can decode (PNG and JPEG are)");
        }
        double scale = Math.max((double) height / image.getHeight(), (double) width / image.getWidth());
        int h = Math.max(height, (int) Math.round(image.getHeight() * scale));
        int w = Math.max(width, (int) Math.round(image.getWidth() * scale));
        BufferedImage scaled = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = scaled.createGraphics();
        // Area averaging when shrinking (no aliasing of fine detail), smooth scaling when growing.
        g.drawImage(image.getScaledInstance(w, h, Image.SCALE_AREA_AVERAGING), 0, 0, null);
        g.dispose();
        byte[] pixels = new byte[channels * h * w];
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int rgb = scaled.getRGB(x, y);
                int r = (rgb >> 16) & 0xff;
                int gr = (rgb >> 8) & 0xff;
                int b = rgb & 0xff;
                if (channels == 1) {
                    // PIL's L = R·299/1000 + G·587/1000 + B·114/1000, in its fixed point and rounding
                    pixels[y * w + x] = (byte) ((r * 19595 + gr * 38470 + b * 7471 + 0x8000) >> 16);
                } else {
                    pixels[y * w + x] = (byte) r;
                    pixels[(h + y) * w + x] = (byte) gr;
                    pixels[(2 * h + y) * w + x] = (byte) b;
                }
            }
        }
        return new Picture(pixels, h, w);
    }
}
