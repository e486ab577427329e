package org.tessera.engine.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Tensor;

/** Grids with a label under each sample, drawn in the built-in 5×7 font. */
class LabelledGridTest {
    @Test
    void theFontDrawsAOneAsAColumnWithAFoot() {
        BufferedImage img = new BufferedImage(6, 7, BufferedImage.TYPE_INT_RGB);
        TinyFont.draw(img, "1", 0, 0, 1, 0xFFFFFF);
        // column 2 is the stem, all seven rows; the foot is row 6 of columns 1–3
        for (int r = 0; r < 7; r++) {
            assertEquals(0xFFFFFF, img.getRGB(2, r) & 0xFFFFFF, "stem row " + r);
        }
        assertEquals(0xFFFFFF, img.getRGB(1, 6) & 0xFFFFFF);
        assertEquals(0xFFFFFF, img.getRGB(3, 6) & 0xFFFFFF);
        assertEquals(0, img.getRGB(0, 3) & 0xFFFFFF);
        assertEquals(11, TinyFont.width("ab", 1));
    }

    @Test
    void labelsGoUnderTheirTiles(@TempDir Path dir) throws Exception {
        Tensor samples = Tensor.zeros(DType.F32, 3, 1, 28, 28); // three grey tiles, no bright pixel
        Path file = dir.resolve("g.png");
        try (OutputSet set = OutputSet.open()) {
            ImageOutput.grid(samples, file, set, 3, 2, List.of("7", "trouser", ""), Map.of());
            set.commit();
        }
        BufferedImage g = ImageIO.read(file.toFile());
        int band = (TinyFont.HEIGHT + 3) * 1; // a 56-pixel tile: font pixels of 1
        assertEquals(2 + 56 + band + 2, g.getHeight(), "one row of tiles with its label band");
        assertTrue(bright(g, 2, 2 + 56, 56, band) > 0, "the first tile's label");
        assertTrue(bright(g, 60, 2 + 56, 56, band) > bright(g, 2, 2 + 56, 56, band), "a longer label, more ink");
        assertEquals(0, bright(g, 118, 2 + 56, 56, band), "an empty label");
        assertThrows(
                IllegalArgumentException.class,
                () -> ImageOutput.grid(samples, dir.resolve("h.png"), OutputSet.open(), 3, 2, List.of("1"), Map.of()));
    }

    private static int bright(BufferedImage g, int x0, int y0, int w, int h) {
        int n = 0;
        for (int y = y0; y < y0 + h; y++) {
            for (int x = x0; x < x0 + w; x++) {
                n += (g.getRGB(x, y) & 0xFF) > 200 ? 1 : 0;
            }
        }
        return n;
    }
}
