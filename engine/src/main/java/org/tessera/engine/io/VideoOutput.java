package org.tessera.engine.io;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageTypeSpecifier;
import javax.imageio.ImageWriter;
import javax.imageio.metadata.IIOMetadata;
import javax.imageio.metadata.IIOMetadataNode;
import javax.imageio.stream.ImageOutputStream;
import org.jcodec.api.SequenceEncoder;
import org.jcodec.common.io.FileChannelWrapper;
import org.jcodec.common.io.NIOUtils;
import org.jcodec.common.model.ColorSpace;
import org.jcodec.common.model.Picture;
import org.jcodec.common.model.Rational;
import org.tessera.engine.tensor.ShapeMismatchException;
import org.tessera.engine.tensor.Shapes;
import org.tessera.engine.tensor.Tensor;

/**
 * Writes sampled videos, [N, F, C, H, W] in [−1, 1] (Latte's layout; an image batch [N, C, H, W]
 * is N one-frame videos), one file per sample, by the file name's extension:
 *
 * <ul>
 *   <li>{@code .gif}: an animated GIF (javax.imageio) at {@code fps} frames per second, looping
 *       forever;
 *   <li>{@code .mp4}: H.264 in MP4 (jcodec, pure Java), frames padded to even sizes as 4:2:0
 *       needs;
 *   <li>{@code .png}: numbered frames, {@code name-S-FFF.png}.
 * </ul>
 *
 * Frames are drawn as {@link ImageOutput} draws images (grey, RGB, or each channel as a grey
 * tile), each pixel repeated {@code scale} times. {@code name.gif} becomes {@code name-0.gif},
 * {@code name-1.gif}, … for the samples. Written through an {@link OutputSet}: whole files, or
 * none.
 */
public final class VideoOutput {
    private VideoOutput() {}

    /** Writes every sample of {@code videos} as {@code file} says; returns the files (staged in {@code set}). */
    public static List<Path> write(Tensor videos, Path file, int fps, int scale, OutputSet set) throws IOException {
        if (fps < 1 || fps > 100) {
            throw new IllegalArgumentException("video: fps must be in 1..100, got " + fps);
        }
        if (scale < 1 || scale > 16) {
            throw new IllegalArgumentException("video: scale must be in 1..16, got " + scale);
        }
        Tensor v = switch (videos.rank()) {
            case 4 -> videos.unsqueeze(1); // images: one frame each
            case 5 -> videos;
            default ->
                throw new ShapeMismatchException("video: needs [N, F, C, H, W] (or images [N, C, H, W]), got "
                        + Shapes.toString(videos.shape()));
        };
        String name = file.getFileName().toString();
        int dot = name.lastIndexOf('.');
        String base = dot < 0 ? name : name.substring(0, dot);
        String ext = dot < 0 ? "" : name.substring(dot + 1).toLowerCase(java.util.Locale.ROOT);
        if (!ext.equals("gif") && !ext.equals("mp4") && !ext.equals("png")) {
            throw new IllegalArgumentException("video: " + name + " must end in .gif, .mp4 or .png (numbered frames)");
        }
        List<Path> written = new ArrayList<>();
        for (int s = 0; s < v.size(0); s++) {
            written.addAll(writeClip(v.select(0, s), file.resolveSibling(base + "-" + s + "." + ext), fps, scale, set));
        }
        return written;
    }

    /**
     * One clip [F, C, H, W] to exactly {@code file} (a .gif or .mp4; a .png name becomes
     * {@code name-FFF.png} frames); returns the files (staged in {@code set}).
     */
    public static List<Path> writeClip(Tensor clip, Path file, int fps, int scale, OutputSet set) throws IOException {
        List<BufferedImage> frames = new ArrayList<>();
        for (int f = 0; f < clip.size(0); f++) {
            frames.add(scaled(ImageOutput.image(clip.select(0, f)), scale));
        }
        String name = file.getFileName().toString();
        String base = name.substring(0, Math.max(0, name.lastIndexOf('.')));
        if (name.endsWith(".gif")) {
            return List.of(gif(frames, file, fps, set));
        }
        if (name.endsWith(".mp4")) {
            return List.of(mp4(frames, file, fps, set));
        }
        if (!name.endsWith(".png")) {
            throw new IllegalArgumentException("video: " + name + " must end in .gif, .mp4 or .png (numbered frames)");
        }
        List<Path> written = new ArrayList<>();
        for (int f = 0; f < frames.size(); f++) {
            Path p = file.resolveSibling(String.format(java.util.Locale.ROOT, "%s-%03d.png", base, f));
            Path tmp = set.stage(p);
            try (OutputStream out = Files.newOutputStream(tmp)) {
                ImageIO.write(frames.get(f), "png", out);
            }
            written.add(p);
        }
        return written;
    }

    /**
     * An animated GIF: one image per frame with a graphic control extension giving the delay
     * (in hundredths of a second, so fps above 50 round to 2) and the NETSCAPE2.0 extension
     * asking viewers to loop forever.
     */
    static Path gif(List<BufferedImage> frames, Path file, int fps, OutputSet set) throws IOException {
        Iterator<ImageWriter> writers = ImageIO.getImageWritersByFormatName("gif");
        if (!writers.hasNext()) {
            throw new IOException("cannot write " + file + ": this Java has no GIF writer");
        }
        ImageWriter writer = writers.next();
        Path tmp = set.stage(file);
        try (ImageOutputStream out = ImageIO.createImageOutputStream(tmp.toFile())) {
            writer.setOutput(out);
            writer.prepareWriteSequence(null);
            int delay = Math.max(1, Math.round(100f / fps));
            for (BufferedImage frame : frames) {
                IIOMetadata meta = writer.getDefaultImageMetadata(
                        ImageTypeSpecifier.createFromRenderedImage(frame), writer.getDefaultWriteParam());
                String format = meta.getNativeMetadataFormatName();
                IIOMetadataNode root = (IIOMetadataNode) meta.getAsTree(format);
                IIOMetadataNode control = child(root, "GraphicControlExtension");
                control.setAttribute("disposalMethod", "none");
                control.setAttribute("userInputFlag", "FALSE");
                control.setAttribute("transparentColorFlag", "FALSE");
                control.setAttribute("delayTime", Integer.toString(delay));
                control.setAttribute("transparentColorIndex", "0");
                IIOMetadataNode app = new IIOMetadataNode("ApplicationExtension");
                app.setAttribute("applicationID", "NETSCAPE");
                app.setAttribute("authenticationCode", "2.0");
                app.setUserObject(new byte[] {1, 0, 0}); // sub-block 1: loop count 0 = forever
                child(root, "ApplicationExtensions").appendChild(app);
                meta.setFromTree(format, root);
                writer.writeToSequence(new IIOImage(frame, null, meta), null);
            }
            writer.endWriteSequence();
        } finally {
            writer.dispose();
        }
        return file;
    }

    /** H.264 in MP4 through jcodec: RGB frames, padded to even sizes, converted to 4:2:0 by the encoder. */
    static Path mp4(List<BufferedImage> frames, Path file, int fps, OutputSet set) throws IOException {
        Path tmp = set.stage(file);
        try (FileChannelWrapper channel = NIOUtils.writableChannel(tmp.toFile())) {
            SequenceEncoder encoder = SequenceEncoder.createWithFps(channel, Rational.R(fps, 1));
            for (BufferedImage frame : frames) {
                encoder.encodeNativeFrame(picture(frame));
            }
            encoder.finish();
        }
        return file;
    }

    /** jcodec's packed RGB picture (bytes are value − 128), padded by repeating the last row and column. */
    private static Picture picture(BufferedImage image) {
        int w = image.getWidth() + (image.getWidth() & 1);
        int h = image.getHeight() + (image.getHeight() & 1);
        Picture p = Picture.create(w, h, ColorSpace.RGB);
        byte[] data = p.getPlaneData(0);
        int i = 0;
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int rgb = image.getRGB(Math.min(x, image.getWidth() - 1), Math.min(y, image.getHeight() - 1));
                data[i++] = (byte) (((rgb >> 16) & 0xff) - 128);
                data[i++] = (byte) (((rgb >> 8) & 0xff) - 128);
                data[i++] = (byte) ((rgb & 0xff) - 128);
            }
        }
        return p;
    }

    private static BufferedImage scaled(BufferedImage image, int scale) {
        if (scale == 1) {
            return image;
        }
        BufferedImage big =
                new BufferedImage(image.getWidth() * scale, image.getHeight() * scale, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < big.getHeight(); y++) {
            for (int x = 0; x < big.getWidth(); x++) {
                big.setRGB(x, y, image.getRGB(x / scale, y / scale));
            }
        }
        return big;
    }

    private static IIOMetadataNode child(IIOMetadataNode root, String name) {
        for (int i = 0; i < root.getLength(); i++) {
            if (root.item(i).getNodeName().equalsIgnoreCase(name)) {
                return (IIOMetadataNode) root.item(i);
            }
        }
        IIOMetadataNode node = new IIOMetadataNode(name);
        root.appendChild(node);
        return node;
    }
}
