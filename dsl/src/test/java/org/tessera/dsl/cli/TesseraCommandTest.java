package org.tessera.dsl.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;

class TesseraCommandTest {
    private record Run(int code, String out, String err) {}

    private static Run run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = TesseraCommand.execute(args, new PrintWriter(out, true), new PrintWriter(err, true));
        return new Run(code, out.toString(), err.toString());
    }

    @Test
    void versionAndHelp() {
        Run v = run("--version");
        assertEquals(0, v.code());
        assertTrue(v.out().startsWith("tessera "), v.out());
        Run h = run("--help");
        assertEquals(0, h.code());
        assertTrue(h.out().contains("bench"), h.out());
        Run bh = run("bench", "gemm", "--help");
        assertTrue(bh.out().contains("--threads"), bh.out());
    }

    @Test
    void benchGemmPrintsARowPerShapeAndThreadCount() {
        Run r = run("bench", "gemm", "--shapes", "13x40x70", "--threads", "1,2", "--seconds", "0.05", "--csv");
        assertEquals(0, r.code(), r.err());
        String[] lines = r.out().strip().split("\n");
        assertEquals("m,k,n,threads,prepacked_gflops,percall_gflops", lines[0]);
        assertEquals(3, lines.length);
        assertTrue(lines[1].startsWith("13,40,70,1,"), lines[1]);
        assertTrue(Double.parseDouble(lines[2].split(",")[4]) > 0);
    }

    @Test
    void benchAttentionPrintsRatios() {
        Run r = run("bench", "attention", "--shapes", "1x2x33x8", "--threads", "1", "--seconds", "0.05");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("1×2×33×8"), r.out());
    }

    @Test
    void badInputIsAOneLineErrorWithUsageExitCode() {
        Run r = run("bench", "gemm", "--shapes", "12x3");
        assertEquals(2, r.code());
        assertEquals("tessera: error: --shapes: '12x3' is not MxKxN", r.err().strip());
        Run t = run("bench", "gemm", "--threads", "0", "--shapes", "2x2x2");
        assertEquals(2, t.code());
        assertFalse(t.err().contains("Exception"), t.err());
        assertEquals(2, run("frobnicate").code());
        assertEquals(2, run("bench", "gemm", "--seconds", "soon").code());
    }

    @Test
    void doctorReportsTheCpuBackendAndEachCudaLibrary() {
        Run r = run("doctor");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("cpu      vector"), r.out());
        for (String lib : new String[] {"cudart", "cublas", "cublasLt", "nvrtc"}) {
            assertTrue(r.out().contains("\n" + lib + " "), r.out());
        }
        assertTrue(r.out().contains("cuda     not available"), r.out());
    }
}
