package org.tessera.engine.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.awt.image.BufferedImage;
import org.junit.jupiter.api.Test;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Tensor;

class LatentPreviewTest {
    @Test
    void eachPixelIsTheLinearMapOfItsFourChannels() {
        Tensor z = Tensor.zeros(DType.F32, 1, 4, 1, 2);
        z.setFloat(1f, 0, 0, 0, 0); // pixel 0: channel 0 alone → the first row of factors
        z.setFloat(2f, 0, 1, 0, 1); // pixel 1: 2·channel 1 − channel 3
        z.setFloat(-1f, 0, 3, 0, 1);
        Tensor rgb = LatentPreview.rgb(z);
        assertArrayEquals(new int[] {1, 3, 1, 2}, rgb.shape());
        float[][] expected = {
            {0.3512f, 0.2297f, 0.3227f}, {2 * 0.3250f + 0.2120f, 2 * 0.4974f + 0.2616f, 2 * 0.2350f + 0.7177f}
        };
        for (int x = 0; x < 2; x++) {
            for (int c = 0; c < 3; c++) {
                assertEquals(expected[x][c], rgb.getFloat(0, c, 0, x), 1e-6f);
            }
        }
    }

    @Test
    void otherChannelCountsAreRefused() {
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class, () -> LatentPreview.rgb(Tensor.zeros(DType.F32, 1, 3, 2, 2)));
        assertEquals(
                "a latent preview needs [N, 4, H, W] Stable Diffusion VAE latents, got [1, 3, 2, 2]", e.getMessage());
    }

    @Test
    void fourChannelsShowAsFourGreyTiles() {
        Tensor z = Tensor.zeros(DType.F32, 4, 5, 3);
        z.setFloat(1f, 2, 4, 1); // channel 2 at (y 4, x 1): white in the third tile
        BufferedImage img = ImageOutput.image(z);
        assertEquals(4 * 3 + 3 * 2, img.getWidth()); // four tiles, 2-pixel gaps
        assertEquals(5, img.getHeight());
        assertEquals(0xffffff, img.getRGB(2 * (3 + 2) + 1, 4) & 0xffffff);
        assertEquals(128 * 0x010101, img.getRGB(0, 0) & 0xffffff); // 0 → mid grey
    }
}
