package org.tessera.engine.io;

import java.awt.image.BufferedImage;

/**
 * A 5×7 bitmap font for the labels of sample grids: letters, digits and a little punctuation,
 * drawn pixel by pixel, so that labelling needs no system fonts (a headless JVM without
 * fontconfig cannot draw text). Other characters show as '?'.
 */
final class TinyFont {
    /** Pixels a character advances: 5 columns and a space. */
    static final int ADVANCE = 6;
    /** Rows of a glyph. */
    static final int HEIGHT = 7;

    private static final String CHARS = " -/._?:()0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    /** Five columns per character, two hex digits each; bit r of a column is row r, top first. */
    private static final String COLUMNS =
            "0000000000080808080820100804020060600000404040404002015109060036360000001c2241000041221c003e5149453e00427f400042615149462141454b311814127f1027454545393c4a49493001710905033649494936064949291e7e1111117e7f494949363e414141227f4141221c7f494949417f090909013e4149497a7f0808087f00417f41002040413f017f081422417f404040407f020c027f7f0408107f3e4141413e7f090909063e4151215e7f09192946464949493101017f01013f4040403f1f2040201f3f4038403f63140814630708700807615149454320545454787f484444383844444420384444487f3854545418087e0901020c5252523e7f0804047800447d40002040443d007f1028440000417f40007c041804787c0804047838444444387c14141408081414187c7c080404084854545420043f4440203c4040207c1c2040201c3c4030403c44281028440c5050503c4464544c44";

    private TinyFont() {}

    /** Pixels {@code text} spans at {@code scale}. */
    static int width(String text, int scale) {
        return Math.max(0, text.length() * ADVANCE - 1) * scale;
    }

    /** Draws {@code text} with its top left at (x, y), each font pixel a scale×scale block of rgb. */
    static void draw(BufferedImage image, String text, int x, int y, int scale, int rgb) {
        for (int i = 0; i < text.length(); i++) {
            int at = CHARS.indexOf(text.charAt(i));
            if (at < 0) {
                at = CHARS.indexOf('?');
            }
            for (int c = 0; c < 5; c++) {
                int bits = Integer.parseInt(COLUMNS, 10 * at + 2 * c, 10 * at + 2 * c + 2, 16);
                for (int r = 0; r < HEIGHT; r++) {
                    if ((bits >> r & 1) != 0) {
                        fill(image, x + (i * ADVANCE + c) * scale, y + r * scale, scale, rgb);
                    }
                }
            }
        }
    }

    private static void fill(BufferedImage image, int x, int y, int scale, int rgb) {
        for (int dy = 0; dy < scale; dy++) {
            for (int dx = 0; dx < scale; dx++) {
                if (x + dx < image.getWidth() && y + dy < image.getHeight()) {
                    image.setRGB(x + dx, y + dy, rgb);
                }
            }
        }
    }
}
