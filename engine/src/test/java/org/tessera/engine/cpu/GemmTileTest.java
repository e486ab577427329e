package org.tessera.engine.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * The register tile follows the machine (issue 18): 12 rows where the JIT has 32 vector registers
 * (AVX-512, ARM); where it has 16, 4 with AVX2 and 6 with 128-bit vectors; a forced row count other
 * than those is an error.
 * The kernels of each tile are held to the scalar reference by the property tests, which the
 * build runs under AVX-512, AVX2 and 128-bit vectors.
 */
class GemmTileTest {
    @Test
    void theRowsFollowTheRegisterCount() {
        assertEquals(32, GemmTile.vectorRegisters("amd64", 512));
        assertEquals(16, GemmTile.vectorRegisters("amd64", 256));
        assertEquals(16, GemmTile.vectorRegisters("amd64", 128));
        assertEquals(32, GemmTile.vectorRegisters("aarch64", 128));
        assertEquals(12, GemmTile.rows(null, GemmTile.vectorRegisters("amd64", 512), 512)); // AVX-512
        assertEquals(4, GemmTile.rows(null, GemmTile.vectorRegisters("amd64", 256), 256)); // AVX2
        assertEquals(6, GemmTile.rows(null, GemmTile.vectorRegisters("amd64", 128), 128)); // x86 held to 128-bit
        assertEquals(12, GemmTile.rows(null, GemmTile.vectorRegisters("aarch64", 128), 128)); // NEON
        assertEquals(6, GemmTile.rows(" 6 ", 32, 512));
        assertEquals(4, GemmTile.rows("4", 32, 512));
        assertEquals(12, GemmTile.rows("12", 16, 256));
    }

    @Test
    void aForcedTileThatIsNotOneIsAnError() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> GemmTile.rows("8", 32, 512));
        assertTrue(e.getMessage().contains("-Dtessera.gemm.rows=8")
                && e.getMessage().contains("4, 6 or 12"));
    }

    @Test
    void theTileInUseIsDescribed() {
        String forced = System.getProperty("tessera.gemm.rows");
        int expected = forced != null
                ? Integer.parseInt(forced.strip())
                : GemmKernel.REGISTERS >= 32 ? 12 : GemmKernel.S.vectorBitSize() == 256 ? 4 : 6;
        assertEquals(expected, GemmKernel.MR);
        assertEquals(
                System.getProperty("os.arch").equals("aarch64") || GemmKernel.S.vectorBitSize() >= 512 ? 32 : 16,
                GemmKernel.REGISTERS);
        assertEquals(2 * GemmKernel.L, GemmKernel.NR);
        assertTrue(
                VectorKernels.describe().contains(GemmKernel.MR + "×" + GemmKernel.NR + " GEMM tile"),
                VectorKernels.describe());
    }

    @Test
    void theFourRowTileTakesPrePackedKInBlocksOfHalfOfL2() {
        assertEquals(8192, GemmTile.prepackedKc(4, 16, 256, 1 << 20)); // 512 KiB of B panel, at the cap
        assertEquals(2048, GemmTile.prepackedKc(4, 16, 256, 256 << 10));
        assertEquals(256, GemmTile.prepackedKc(4, 16, 256, 16 << 10)); // never below KC
        assertEquals(256, GemmTile.prepackedKc(12, 32, 256, 1 << 20)); // other tiles keep KC
        assertEquals(256, GemmTile.prepackedKc(6, 8, 256, 1 << 20));
        assertEquals(
                GemmTile.prepackedKc(GemmKernel.MR, GemmKernel.NR, GemmJob.KC, GemmTile.l2Bytes()),
                GemmJob.KC_PREPACKED);
    }

    @Test
    void cacheSizesReadAsLinuxWritesThem() {
        assertEquals(1 << 20, GemmTile.parseSize("1024K"));
        assertEquals(2 << 20, GemmTile.parseSize("2M\n"));
        assertEquals(512, GemmTile.parseSize("512"));
        assertEquals(-1, GemmTile.parseSize("big"));
        assertEquals(-1, GemmTile.parseSize(""));
        assertTrue(GemmTile.l2Bytes() >= 16 << 10, "an L2 of " + GemmTile.l2Bytes() + " bytes");
    }
}
