package org.tessera.engine.cpu;

import java.lang.foreign.MemorySegment;

/**
 * A reusable buffer of packed A micro-panels (see {@link GemmKernel}): the floats that packing
 * writes, and a memory-segment view of the same floats, made once per allocation, through which
 * the 6-row kernels (the tile of 16 registers) read A.
 *
 * <p>Why the view: with 16 registers (AVX2, 128-bit vectors) the kernel's per-step broadcast of
 * an A value ran at half speed when the value came from the heap array, and at full speed when
 * the same value came through a memory segment (the kernel alone under -XX:UseAVX=2: 54 against
 * 107 GF/s; bench/kernel-broadcast.sh). With AVX-512 the array is the faster one, so the
 * 12-row kernels keep reading it. Making the view inside the kernel instead allocated 72
 * bytes per call; hence this holder, which its owner reuses for every call.
 */
final class APanels {
    private float[] floats = new float[0];
    private MemorySegment view = MemorySegment.ofArray(floats);

    /** The packed floats, for packing to write and the 12-row kernels to read. */
    float[] floats() {
        return floats;
    }

    /** {@link #floats()} as a memory segment: float i at byte 4·i. */
    MemorySegment view() {
        return view;
    }

    /** Makes room for {@code n} floats; the contents are not kept when it grows. */
    void ensure(int n) {
        if (floats.length < n) {
            floats = new float[n];
            view = MemorySegment.ofArray(floats);
        }
    }
}
