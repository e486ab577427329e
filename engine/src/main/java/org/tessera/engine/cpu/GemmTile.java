package org.tessera.engine.cpu;

/**
 * The GEMM register tile's row count for this machine, chosen before the kernels load (plain
 * Java, no Vector API): so that a forced choice that cannot be honoured is named the same way
 * however often it is asked, rather than as a class that failed to initialise.
 */
final class GemmTile {
    /** The system property that forces the rows: {@code -Dtessera.gemm.rows=4}, {@code 6} or {@code 12}. */
    static final String ROWS_PROPERTY = "tessera.gemm.rows";

    private GemmTile() {}

    /**
     * 32 vector registers on aarch64 (NEON and SVE) and with 512-bit vectors (AVX-512 brings
     * zmm0–31); 16 otherwise (x86's ymm0–15 and xmm0–15). (x86 with AVX-512 held to 256-bit
     * vectors still has 32; it gets the 16-register tile, which is correct, if not the fastest.)
     */
    static int vectorRegisters(String arch, int vectorBits) {
        return arch.equals("aarch64") || vectorBits >= 512 ? 32 : 16;
    }

    /** The rows for {@code vectorBits}-bit vectors on this JVM's architecture, or the forced ones. */
    static int rows(int vectorBits) {
        return rows(
                System.getProperty(ROWS_PROPERTY),
                vectorRegisters(System.getProperty("os.arch", ""), vectorBits),
                vectorBits);
    }

    /**
     * The tile's rows for {@code registers} vector registers of {@code vectorBits} bits, or the
     * forced ones: 12 on 32 registers (AVX-512, ARM); on 16, 4 with 256-bit vectors (AVX2) and 6
     * with 128-bit ones (x86 held to SSE widths). Measured on an AMD EPYC, the kernel alone on one
     * thread (bench/kernel-broadcast.sh, 2026-12-07), with A read as {@link GemmKernel} reads it
     * for each: under AVX2 4×16 from the array 102–103 GF/s, 6×16 through a segment 80–91, 6×16 or
     * 5×16 from the array (spilling) 42–50, 12×16 52–75; with 128-bit vectors 6×8 through a
     * segment 46, 4×8 from the array 46, 12×8 30–39.
     *
     * @throws IllegalArgumentException when a forced value is not 4, 6 or 12 (a forced choice that
     *     cannot be honoured is an error, not a quiet fallback)
     */
    static int rows(String forced, int registers, int vectorBits) {
        if (forced == null || forced.isBlank()) {
            return registers >= 32 ? 12 : vectorBits == 256 ? 4 : 6;
        }
        return switch (forced.strip()) {
            case "4" -> 4;
            case "6" -> 6;
            case "12" -> 12;
            default ->
                throw new IllegalArgumentException(
                        "-D" + ROWS_PROPERTY + "=" + forced + ": the GEMM register tile has 4, 6 or 12 rows");
        };
    }
}
