package org.tessera.engine.cpu;

import org.tessera.engine.backend.PackedMatrix;

/**
 * B [K, N] in the kernel's panel layout: panel p holds columns [p·NR, p·NR + NR) for all K
 * rows, k-major, zero-padded past N. The micro-panel for rows [k0, k0+kc) of panel p starts at
 * {@code p·K·NR + k0·NR}, so any K-block of a panel is contiguous.
 */
record CpuPackedMatrix(int rows, int cols, float[] panels) implements PackedMatrix {
    int panelCount() {
        return (cols + GemmKernel.NR - 1) / GemmKernel.NR;
    }
}
