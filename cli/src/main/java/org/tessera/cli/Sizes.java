package org.tessera.cli;

/** Human-readable byte counts and FLOPs. */
final class Sizes {
    private Sizes() {}

    static String bytes(long b) {
        return org.tessera.engine.tensor.ByteSizes.format(b);
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
