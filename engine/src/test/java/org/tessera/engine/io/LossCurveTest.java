package org.tessera.engine.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.util.List;
import org.junit.jupiter.api.Test;

class LossCurveTest {
    @Test
    void twoDecadesGetOneTwoAndFiveOfEach() {
        List<Double> ticks = LossCurve.ticks(Math.log10(0.01), Math.log10(1.0));
        List<String> labels = ticks.stream().map(LossCurve::label).toList();
        assertEquals(List.of("0.01", "0.02", "0.05", "0.1", "0.2", "0.5", "1"), labels);
    }

    @Test
    void manyDecadesGetOnlyTheirPowersOfTen() {
        List<String> labels =
                LossCurve.ticks(-6, 0.5).stream().map(LossCurve::label).toList();
        assertEquals(List.of("1e-6", "1e-5", "1e-4", "0.001", "0.01", "0.1", "1"), labels);
    }

    @Test
    void aNarrowRangeGetsEveryDigit() {
        // A plateau between 0.031 and 0.095: no power of ten inside, so 1-2-5 gives two lines.
        List<String> labels = LossCurve.ticks(Math.log10(0.031), Math.log10(0.095)).stream()
                .map(LossCurve::label)
                .toList();
        assertEquals(List.of("0.04", "0.05", "0.06", "0.07", "0.08", "0.09"), labels);
    }

    @Test
    void largeValuesAreWrittenPlainUpToAThousand() {
        assertEquals("2000", LossCurve.label(2000));
        assertEquals("5e4", LossCurve.label(50000));
        assertEquals("0.005", LossCurve.label(0.005));
    }

    @Test
    void theChartCarriesItsLabels() {
        double[] losses = new double[40];
        for (int i = 0; i < losses.length; i++) {
            losses[i] = 0.5 * Math.exp(-i / 8.0) + 0.02;
        }
        BufferedImage img = LossCurve.draw(losses, 50);
        assertEquals(720, img.getWidth());
        assertTrue(textPixels(img, 0, 24, 50, 320) > 50, "loss labels left of the axis");
        assertTrue(textPixels(img, 0, 325, 720, 360) > 50, "step labels under the axis");
        assertTrue(textPixels(img, 0, 0, 720, 20) > 50, "a title above");
    }

    @Test
    void aSinglePointOrNoneStillDraws() {
        assertEquals(360, LossCurve.draw(new double[] {0.1}, 10).getHeight());
        assertEquals(360, LossCurve.draw(new double[] {Double.NaN}, 10).getHeight());
        assertEquals(360, LossCurve.draw(new double[0], 10).getHeight());
    }

    private static int textPixels(BufferedImage img, int x0, int y0, int x1, int y1) {
        int n = 0;
        for (int y = y0; y < y1; y++) {
            for (int x = x0; x < x1; x++) {
                if ((img.getRGB(x, y) & 0xFFFFFF) == 0x555555) {
                    n++;
                }
            }
        }
        return n;
    }
}
