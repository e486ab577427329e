package org.tessera.engine.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * The register tile follows the machine (issue 18): 12 rows where the JIT has 32 vector registers
 * (AVX-512, ARM), 6 where it has 16 (AVX2, SSE); a forced row count other than those is an error.
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
}
