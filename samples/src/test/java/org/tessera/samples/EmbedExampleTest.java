package org.tessera.samples;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class EmbedExampleTest {
    @Test
    void runsTheTinyPipelineSequentiallyAndConcurrently() throws Exception {
        Path root = Path.of("").toAbsolutePath();
        while (!Files.isRegularFile(root.resolve("samples/dit-tiny-sample.tess"))) {
            root = root.getParent();
        }
        PrintStream old = System.out;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        System.setOut(new PrintStream(buf, true));
        try {
            EmbedExample.main(
                    new String[] {root.resolve("samples/dit-tiny-sample.tess").toString()});
        } finally {
            System.setOut(old);
        }
        String out = buf.toString();
        assertTrue(out.contains("step 25/25"), out);
        assertTrue(out.contains("same seed reproduces: true"), out);
    }
}
