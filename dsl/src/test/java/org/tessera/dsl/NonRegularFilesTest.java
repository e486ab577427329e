package org.tessera.dsl;

import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessera.dsl.diag.Diagnostics;

/** A script that is a folder or a FIFO is an error at once; reading a FIFO would block forever. */
class NonRegularFilesTest {
    @Test
    void aFifoIsRefusedWithoutBlocking(@TempDir Path dir) throws Exception {
        Path fifo = dir.resolve("pipe.tess");
        Process mk = new ProcessBuilder("mkfifo", fifo.toString()).start();
        Assumptions.assumeTrue(mk.waitFor() == 0, "mkfifo is not available here");
        Diagnostics d = assertTimeoutPreemptively(Duration.ofSeconds(10), () -> Script.check(List.of(fifo)));
        assertTrue(
                d.render().contains("pipe.tess:1:1: error: cannot read " + fifo + ": not a regular file"), d.render());
    }

    @Test
    void aFolderIsRefused(@TempDir Path dir) throws Exception {
        Path folder = Files.createDirectory(dir.resolve("scripts.tess"));
        Diagnostics d = Script.check(List.of(folder));
        assertTrue(d.render().contains("cannot read " + folder + ": not a regular file"), d.render());
    }

    @Test
    void nestingDeeperThanTheCompilerReachesIsADiagnostic(@TempDir Path dir) throws Exception {
        int n = 50_000;
        Path parens = dir.resolve("parens.tess");
        Files.writeString(
                parens,
                "model M() {\n    forward(x: [B, 4]) {\n        return " + "(".repeat(n) + "x" + ")".repeat(n)
                        + "\n    }\n}\n");
        Path chain = dir.resolve("chain.tess");
        Files.writeString(
                chain, "model M() {\n    forward(x: [B, 4]) {\n        return x" + " + 1".repeat(n) + "\n    }\n}\n");
        for (Path file : List.of(parens, chain)) {
            Diagnostics d = Script.check(List.of(file));
            assertTrue(d.render().contains("error: nested too deeply to compile"), d.render());
        }
    }
}
