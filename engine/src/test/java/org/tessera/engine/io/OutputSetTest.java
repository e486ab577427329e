package org.tessera.engine.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OutputSetTest {
    @TempDir
    Path dir;

    private List<String> names() throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void nothingAppearsBeforeTheCommitAndEverythingAfter() throws IOException {
        try (OutputSet set = OutputSet.open()) {
            Files.writeString(set.stage(dir.resolve("a.txt")), "a");
            Files.writeString(set.stage(dir.resolve("sub/b.txt")), "b");
            assertFalse(Files.exists(dir.resolve("a.txt")));
            assertFalse(Files.exists(dir.resolve("sub/b.txt")));
            assertEquals(List.of(dir.resolve("a.txt"), dir.resolve("sub/b.txt")), set.commit());
        }
        assertEquals("a", Files.readString(dir.resolve("a.txt")));
        assertEquals("b", Files.readString(dir.resolve("sub/b.txt")));
        assertEquals(List.of("a.txt", "sub"), names()); // no temporary file left
    }

    @Test
    void closingWithoutACommitLeavesNothingAndKeepsWhatWasThere() throws IOException {
        Files.writeString(dir.resolve("a.txt"), "old");
        try (OutputSet set = OutputSet.open()) {
            Files.writeString(set.stage(dir.resolve("a.txt")), "new");
            Files.writeString(set.stage(dir.resolve("c.txt")), "c");
        }
        assertEquals(List.of("a.txt"), names());
        assertEquals("old", Files.readString(dir.resolve("a.txt")));
    }

    @Test
    void twoOutputsOfOneFileAreRefused() throws IOException {
        try (OutputSet set = OutputSet.open()) {
            set.stage(dir.resolve("a.txt"));
            IOException e = assertThrows(IOException.class, () -> set.stage(dir.resolve("./a.txt")));
            assertTrue(e.getMessage().contains("two outputs write the same file"), e.getMessage());
        }
        assertEquals(List.of(), names());
    }

    @Test
    void filesGetTheModesOfAnyNewFileNotTheTemporaryFilesPrivateOnes() throws IOException {
        Path plain = Files.createFile(dir.resolve("plain.txt")); // mode from the umask
        try (OutputSet set = OutputSet.open()) {
            set.stage(dir.resolve("out.txt"));
            set.commit();
        }
        assertEquals(
                PosixFilePermissions.toString(Files.getPosixFilePermissions(plain)),
                PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve("out.txt"))));
    }

    @Test
    void anInterruptedProcessLeavesNoTemporaryFiles() throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(
                        java, "-cp", System.getProperty("java.class.path"), Staging.class.getName(), dir.toString())
                .redirectErrorStream(true)
                .start();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            assertEquals("staged", r.readLine());
            assertEquals(2, names().size()); // the two hidden files, mid-run
            p.destroy(); // SIGTERM: as Ctrl-C, the JVM runs its shutdown hooks
            assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        } finally {
            p.destroyForcibly();
        }
        assertEquals(List.of(), names());
    }

    /** Stages two files in the folder given, says so, and waits to be interrupted. */
    static final class Staging {
        public static void main(String[] args) throws Exception {
            OutputSet set = OutputSet.open();
            Files.writeString(set.stage(Path.of(args[0], "a.png")), "a");
            Files.writeString(set.stage(Path.of(args[0], "b.safetensors")), "b");
            System.out.println("staged");
            System.out.flush();
            Thread.sleep(60_000);
        }
    }
}
