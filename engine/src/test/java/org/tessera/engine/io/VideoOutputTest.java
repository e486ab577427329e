package org.tessera.engine.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.metadata.IIOMetadataNode;
import javax.imageio.stream.ImageInputStream;
import org.jcodec.api.FrameGrab;
import org.jcodec.common.io.NIOUtils;
import org.jcodec.common.model.Picture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Tensor;

/**
 * Videos written and read back: a white square moving right over black, one sample of five
 * 15×9 grey frames (odd sizes, which H.264's 4:2:0 pads).
 */
class VideoOutputTest {
    private static final int FRAMES = 5;
    private static final int H = 9;
    private static final int W = 15;

    /** [1, F, 1, H, W] in [−1, 1]: −1 everywhere but a 3×3 square at x = 2·f. */
    private static Tensor movingSquare() {
        Tensor v = Tensor.zeros(DType.F32, 1, FRAMES, 1, H, W);
        for (int f = 0; f < FRAMES; f++) {
            for (int y = 0; y < H; y++) {
                for (int x = 0; x < W; x++) {
                    boolean in = y >= 3 && y < 6 && x >= 2 * f && x < 2 * f + 3;
                    v.setFloat(in ? 1f : -1f, 0, f, 0, y, x);
                }
            }
        }
        return v;
    }

    private static List<Path> write(Tensor v, Path file, int fps, int scale) throws Exception {
        try (OutputSet set = OutputSet.open()) {
            List<Path> files = VideoOutput.write(v, file, fps, scale, set);
            set.commit();
            return files;
        }
    }

    @Test
    void anAnimatedGifHasEveryFrameItsDelayAndLoopsForever(@TempDir Path dir) throws Exception {
        List<Path> files = write(movingSquare(), dir.resolve("clip.gif"), 4, 2);
        assertEquals(List.of(dir.resolve("clip-0.gif")), files);
        ImageReader reader = ImageIO.getImageReadersByFormatName("gif").next();
        try (ImageInputStream in = ImageIO.createImageInputStream(files.get(0).toFile())) {
            reader.setInput(in);
            assertEquals(FRAMES, reader.getNumImages(true));
            for (int f = 0; f < FRAMES; f++) {
                BufferedImage img = reader.read(f);
                assertEquals(2 * W, img.getWidth());
                assertEquals(2 * H, img.getHeight());
                // scale 2: square pixel (2f + 1, 4) is image pixel (4f + 2, 8); its left neighbour
                // outside the square is dark
                assertEquals(255, img.getRGB(2 * (2 * f + 1), 2 * 4) & 0xff, "frame " + f);
                if (f > 0) {
                    assertEquals(0, img.getRGB(2 * (2 * f - 1), 2 * 4) & 0xff, "frame " + f);
                }
                IIOMetadataNode root =
                        (IIOMetadataNode) reader.getImageMetadata(f).getAsTree("javax_imageio_gif_image_1.0");
                IIOMetadataNode control = (IIOMetadataNode)
                        root.getElementsByTagName("GraphicControlExtension").item(0);
                assertEquals("25", control.getAttribute("delayTime")); // 4 fps: 25 hundredths of a second
            }
            IIOMetadataNode first =
                    (IIOMetadataNode) reader.getImageMetadata(0).getAsTree("javax_imageio_gif_image_1.0");
            IIOMetadataNode app = (IIOMetadataNode)
                    first.getElementsByTagName("ApplicationExtension").item(0);
            assertEquals("NETSCAPE", app.getAttribute("applicationID"));
            byte[] loop = (byte[]) app.getUserObject();
            assertEquals(1, loop[0]);
            assertEquals(0, loop[1] | loop[2]); // loop count 0: forever
        } finally {
            reader.dispose();
        }
    }

    @Test
    void anMp4DecodesToTheFramesWithTheSquareWhereItWas(@TempDir Path dir) throws Exception {
        Path file = write(movingSquare(), dir.resolve("clip.mp4"), 8, 2).get(0);
        FrameGrab grab = FrameGrab.createFrameGrab(NIOUtils.readableChannel(file.toFile()));
        for (int f = 0; f < FRAMES; f++) {
            Picture p = grab.getNativeFrame();
            assertTrue(p != null, "frame " + f + " is missing");
            // luma plane (value − 128): bright inside the square, dark beside it, lossy as H.264 is
            byte[] luma = p.getPlaneData(0);
            int stride = p.getPlaneWidth(0);
            int inside = luma[(2 * 4) * stride + 2 * (2 * f + 1)] + 128;
            int outside = luma[(2 * 4) * stride + 2 * ((2 * f + 8) % W)] + 128;
            assertTrue(
                    inside > 180 && outside < 70,
                    "frame " + f + ": luma " + inside + " inside, " + outside + " outside");
        }
        assertEquals(null, grab.getNativeFrame(), "more frames than written");
    }

    @Test
    void numberedFramesAndImagesAsOneFrameVideos(@TempDir Path dir) throws Exception {
        List<Path> frames = write(movingSquare(), dir.resolve("f.png"), 8, 1);
        assertEquals(FRAMES, frames.size());
        assertEquals(dir.resolve("f-0-004.png"), frames.get(FRAMES - 1));
        assertEquals(W, ImageIO.read(frames.get(0).toFile()).getWidth());
        Tensor images = Tensor.zeros(DType.F32, 2, 3, 4, 4);
        List<Path> gifs = write(images, dir.resolve("i.gif"), 8, 1);
        assertEquals(2, gifs.size());
        assertTrue(Files.size(gifs.get(1)) > 0);
    }

    @Test
    void aBadNameOrShapeIsRefusedAndNothingIsWritten(@TempDir Path dir) throws Exception {
        assertThrows(IllegalArgumentException.class, () -> write(movingSquare(), dir.resolve("clip.avi"), 8, 1));
        assertThrows(
                org.tessera.engine.tensor.ShapeMismatchException.class,
                () -> write(Tensor.zeros(DType.F32, 4, 4), dir.resolve("clip.gif"), 8, 1));
        try (var listing = Files.list(dir)) {
            assertEquals(0, listing.count(), "a refused video leaves no file");
        }
    }
}
