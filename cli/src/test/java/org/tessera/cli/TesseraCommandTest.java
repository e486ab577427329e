package org.tessera.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class TesseraCommandTest {
    private static CliRun run(String... args) {
        return CliRun.of(args);
    }

    @Test
    void versionAndHelp() {
        CliRun v = run("--version");
        assertEquals(0, v.code());
        // the version Maven stamps into the jar (a path that named another module's folder read
        // nothing, and printed "tessera unknown")
        assertTrue(v.out().matches("(?s)tessera \\d+\\.\\d+\\.\\d+.*"), v.out());
        CliRun h = run("--help");
        assertEquals(0, h.code());
        assertTrue(h.out().contains("bench"), h.out());
        CliRun bh = run("bench", "gemm", "--help");
        assertTrue(bh.out().contains("--threads"), bh.out());
        // Each command's line in the top-level help is a whole sentence, not a description cut short.
        assertTrue(h.out().contains("run      Compile a .tess pipeline and run it, writing its outputs."), h.out());
        assertTrue(
                h.out().contains("doctor   Report the JDK, the CPU backend, the CUDA libraries, the driver and"),
                h.out());
    }

    @Test
    void benchGemmPrintsARowPerShapeAndThreadCount() {
        CliRun r = run("bench", "gemm", "--shapes", "13x40x70", "--threads", "1,2", "--seconds", "0.05", "--csv");
        assertEquals(0, r.code(), r.err());
        String[] lines = r.out().strip().split("\n");
        assertEquals("m,k,n,threads,prepacked_gflops,percall_gflops", lines[0]);
        assertEquals(3, lines.length);
        assertTrue(lines[1].startsWith("13,40,70,1,"), lines[1]);
        assertTrue(Double.parseDouble(lines[2].split(",")[4]) > 0);
    }

    @Test
    void benchAttentionPrintsRatios() {
        CliRun r = run(
                "bench",
                "attention",
                "--shapes",
                "1x2x33x8,1x1x20x16",
                "--threads",
                "1",
                "--seconds",
                "0.05",
                "--rounds",
                "2");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("1×2×33×8"), r.out());
        assertTrue(r.out().contains("1×1×20×16"), r.out());
        assertTrue(r.err().contains("round 2/2"), r.err());
        CliRun none = run("bench", "attention", "--rounds", "0");
        assertEquals(2, none.code());
        assertFalse(none.err().contains("Exception"), none.err());
    }

    @Test
    void badInputIsAOneLineErrorWithUsageExitCode() {
        CliRun r = run("bench", "gemm", "--shapes", "12x3");
        assertEquals(2, r.code());
        assertEquals("tessera: error: --shapes: '12x3' is not MxKxN", r.err().strip());
        CliRun t = run("bench", "gemm", "--threads", "0", "--shapes", "2x2x2");
        assertEquals(2, t.code());
        assertFalse(t.err().contains("Exception"), t.err());
        assertEquals(2, run("frobnicate").code());
        assertEquals(2, run("bench", "gemm", "--seconds", "soon").code());
    }

    @Test
    void doctorReportsTheCpuBackendAndEachCudaLibrary() {
        CliRun r = run("doctor");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("cpu      vector"), r.out());
        for (String lib : new String[] {"cudart", "cublas", "cublasLt", "nvrtc"}) {
            assertTrue(r.out().contains("\n" + lib + " "), r.out());
        }
        assertTrue(r.out().contains("cuda     not available"), r.out());
        CliRun gpu = run("doctor", "--gpu");
        assertEquals(1, gpu.code());
        assertTrue(gpu.err().contains("doctor --gpu: no GPU to check (CUDA is not available:"), gpu.err());
    }

    @Test
    void anAbsurdThreadCountIsAUsageError() {
        CliRun r = run("run", "no-such.tess", "--threads", "100000");
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("threads must be 0 (all processors) to"), r.err());
    }
}
