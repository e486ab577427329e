package org.tessera.cli;

import java.util.Locale;

/** Human-readable byte counts. */
final class Sizes {
    private Sizes() {}

    static String bytes(long b) {
        if (b < 1024) {
            return b + " B";
        }
        String[] units = {"KiB", "MiB", "GiB", "TiB"};
        double v = b;
        int u = -1;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return String.format(Locale.ROOT, "%.1f %s", v, units[u]);
    }

    /** FLOPs in a readable unit: {@code 474.8 GFLOP}, {@code 96.5 MFLOP} (a small model is not "0.0 GFLOP"). */
    static String flops(long f) {
        if (f >= 1_000_000_000L) {
            return String.format(java.util.Locale.ROOT, "%.1f GFLOP", f / 1e9);
        }
        if (f >= 1_000_000L) {
            return String.format(java.util.Locale.ROOT, "%.1f MFLOP", f / 1e6);
        }
        return String.format(java.util.Locale.ROOT, "%.1f kFLOP", f / 1e3);
    }
}
