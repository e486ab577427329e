package org.tessera.engine.cpu;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The GEMM register tile's row count for this machine, chosen before the kernels load (plain
 * Java, no Vector API): so that a forced choice that cannot be honoured is named the same way
 * however often it is asked, rather than as a class that failed to initialise.
 */
final class GemmTile {
    /** The system property that forces the rows: {@code -Dtessera.gemm.rows=4}, {@code 6} or {@code 12}. */
    static final String ROWS_PROPERTY = "tessera.gemm.rows";

    /** Where Linux describes CPU 0's caches, one folder per cache (level, type, size). */
    private static final Path CACHES = Path.of("/sys/devices/system/cpu/cpu0/cache");
    /** L2 assumed where the system does not say: a desktop core's, the smallest in common use. */
    static final long DEFAULT_L2_BYTES = 256 << 10;

    private GemmTile() {}

    /**
     * Most rows of K per block when B is pre-packed, for a tile of {@code rows} rows and
     * {@code cols} columns: the 4-row tile takes K in blocks whose B micro-panel (KC·cols floats)
     * fills up to half of L2, the others {@code kc}. Each K block is a pass over the register tiles,
     * which carry across blocks; with 4 rows a tile is small and those passes cost 5–8% of the
     * product (one block against five of 256 at K = 1152, one against four of 1152 at K = 4608,
     * under AVX2 on an AMD EPYC with 1 MiB of L2: docs/benchmarks.md). B packed in the call keeps
     * {@code kc}: its chunks hold a K block of their panels, which would grow with KC.
     */
    static int prepackedKc(int rows, int cols, int kc, long l2Bytes) {
        if (rows != 4) {
            return kc;
        }
        return (int) Math.max(kc, Math.min(8192, l2Bytes / 2 / (4L * cols)));
    }

    /**
     * This machine's L2 per core in bytes, from Linux's description of CPU 0's caches, or
     * {@link #DEFAULT_L2_BYTES} where there is none (another system, or a container that hides it).
     */
    static long l2Bytes() {
        try (var dirs = Files.list(CACHES)) {
            for (var dir : dirs.filter(d -> d.getFileName().toString().startsWith("index"))
                    .toList()) {
                String level = read(dir.resolve("level"));
                String type = read(dir.resolve("type"));
                if ("2".equals(level) && !"Instruction".equals(type)) {
                    long size = parseSize(read(dir.resolve("size")));
                    if (size > 0) {
                        return size;
                    }
                }
            }
        } catch (IOException | RuntimeException e) {
            // Not Linux, or not readable: the default below.
        }
        return DEFAULT_L2_BYTES;
    }

    /** A cache size as Linux writes it ("1024K", "2M", "512"), in bytes; -1 when it is not one. */
    static long parseSize(String text) {
        if (text == null || text.isBlank()) {
            return -1;
        }
        String t = text.strip();
        long unit = switch (t.charAt(t.length() - 1)) {
            case 'K', 'k' -> 1L << 10;
            case 'M', 'm' -> 1L << 20;
            case 'G', 'g' -> 1L << 30;
            default -> 1;
        };
        String digits = unit == 1 ? t : t.substring(0, t.length() - 1);
        try {
            return Long.parseLong(digits) * unit;
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    private static String read(Path file) throws IOException {
        return Files.readString(file).strip();
    }

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
