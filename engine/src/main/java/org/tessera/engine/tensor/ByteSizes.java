package org.tessera.engine.tensor;

import java.util.Locale;

/** Byte counts as every Tessera message prints them: {@code 512 B}, {@code 107.1 KiB}, {@code 2.53 GiB}. */
public final class ByteSizes {
    private ByteSizes() {}

    /** {@code b} in the largest binary unit under it. */
    public static String format(long b) {
        if (b < 1 << 10) {
            return b + " B";
        }
        if (b < 1 << 20) {
            return String.format(Locale.ROOT, "%.1f KiB", b / 1024.0);
        }
        if (b < 1L << 30) {
            return String.format(Locale.ROOT, "%.1f MiB", b / (1024.0 * 1024));
        }
        if (b < 1L << 40) {
            return String.format(Locale.ROOT, "%.2f GiB", b / (1024.0 * 1024 * 1024));
        }
        return String.format(Locale.ROOT, "%.2f TiB", b / (1024.0 * 1024 * 1024 * 1024));
    }
}
