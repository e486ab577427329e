package org.tessera.engine.random;

/**
 * Philox4x32-10, the counter-based generator of Salmon et al., "Parallel random numbers: as
 * easy as 1, 2, 3" (SC 2011), as used by cuRAND and PyTorch.
 *
 * <p>A counter-based generator is a pure function {@code (key, counter) → 4 × uint32}: element
 * {@code i} of a noise tensor depends only on the seed and {@code i}, never on how the work was
 * split across threads or devices. That is what makes a seed reproduce the same image on 1, 2
 * or 16 CPU threads and on the GPU.
 */
public final class Philox {
    private static final int M0 = 0xD2511F53;
    private static final int M1 = 0xCD9E8D57;
    private static final int W0 = 0x9E3779B9; // golden ratio
    private static final int W1 = 0xBB67AE85; // sqrt(3) - 1
    private static final int ROUNDS = 10;

    private Philox() {}

    /**
     * One Philox4x32-10 block: writes the four 32-bit outputs for {@code counter} (128 bits as
     * c0..c3, c0 least significant) under {@code key} (k0, k1) into {@code out[0..3]}.
     */
    public static void block(int c0, int c1, int c2, int c3, int k0, int k1, int[] out) {
        for (int r = 0; r < ROUNDS; r++) {
            // One round: two 32x32→64 multiplies; the high halves mix into the other lanes.
            long p0 = (M0 & 0xFFFF_FFFFL) * (c0 & 0xFFFF_FFFFL);
            long p1 = (M1 & 0xFFFF_FFFFL) * (c2 & 0xFFFF_FFFFL);
            int n0 = (int) (p1 >>> 32) ^ c1 ^ k0;
            int n1 = (int) p1;
            int n2 = (int) (p0 >>> 32) ^ c3 ^ k1;
            int n3 = (int) p0;
            c0 = n0;
            c1 = n1;
            c2 = n2;
            c3 = n3;
            k0 += W0;
            k1 += W1;
        }
        out[0] = c0;
        out[1] = c1;
        out[2] = c2;
        out[3] = c3;
    }
}
