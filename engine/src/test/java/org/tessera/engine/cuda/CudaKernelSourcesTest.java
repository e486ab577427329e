package org.tessera.engine.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The kernel sources, checked without a GPU: every kernel the Java side launches exists in the
 * file it is launched from, and, where {@code nvcc} is installed (CI has CUDA 13's), each file
 * compiles for sm_90 with warnings as errors. NVRTC uses the same front end; what differs
 * (no standard headers) is kept out of the sources.
 */
class CudaKernelSourcesTest {
    private static final Pattern LAUNCH = Pattern.compile("launch(?:1d)?\\((?:FILE|\"(\\w+\\.cu)\"),\\s*\"(\\w+)\"");
    private static final Pattern FILE_CONST = Pattern.compile("String FILE = \"(\\w+\\.cu)\"");

    @Test
    void everyLaunchedKernelIsDefined() throws IOException {
        Path src = Path.of("src/main/java/org/tessera/engine/cuda");
        int found = 0;
        try (Stream<Path> files = Files.list(src)) {
            for (Path f : files.toList()) {
                String java = Files.readString(f);
                Matcher fc = FILE_CONST.matcher(java);
                String fileConst = fc.find() ? fc.group(1) : null;
                Matcher m = LAUNCH.matcher(java);
                while (m.find()) {
                    String file = m.group(1) != null ? m.group(1) : fileConst;
                    String kernel = m.group(2);
                    String cu = CudaKernels.resource(file);
                    assertTrue(
                            cu.contains("extern \"C\" __global__ void " + kernel + "(")
                                    || cu.contains("\n" + kernel + "("),
                            f.getFileName() + " launches " + kernel + " which " + file + " does not define");
                    found++;
                }
            }
        }
        assertTrue(found >= 15, "only " + found + " launches found; is the pattern stale?");
    }

    @Test
    void sourcesCompileWithNvcc(@TempDir Path dir) throws Exception {
        Path nvcc = findNvcc();
        assumeTrue(
                nvcc != null, "nvcc not found (set CUDA_HOME); the sources are compiled on the GPU by NVRTC instead");
        Files.writeString(dir.resolve(CudaKernels.HEADER), CudaKernels.resource(CudaKernels.HEADER));
        for (String file : CudaKernels.SOURCES) {
            Files.writeString(dir.resolve(file), CudaKernels.resource(file));
            List<String> cmd = new ArrayList<>(List.of(
                    nvcc.toString(),
                    "-arch=sm_90",
                    "-cubin",
                    "-Werror",
                    "all-warnings",
                    "-o",
                    dir.resolve(file + ".cubin").toString(),
                    dir.resolve(file).toString()));
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes());
            assertTrue(p.waitFor(120, TimeUnit.SECONDS), "nvcc timed out on " + file);
            assertEquals(0, p.exitValue(), "nvcc " + file + ":\n" + out);
        }
    }

    private static Path findNvcc() {
        List<Path> candidates = new ArrayList<>();
        String home = System.getenv("CUDA_HOME");
        if (home != null) {
            candidates.add(Path.of(home, "bin", "nvcc"));
        }
        candidates.add(Path.of("/usr/local/cuda-13.0/bin/nvcc"));
        candidates.add(Path.of("/usr/local/cuda/bin/nvcc"));
        String path = System.getenv("PATH");
        if (path != null) {
            for (String d : path.split(":")) {
                candidates.add(Path.of(d, "nvcc"));
            }
        }
        return candidates.stream().filter(Files::isExecutable).findFirst().orElse(null);
    }
}
