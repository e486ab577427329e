package org.tessera.ffi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CudaLibrariesTest {

    @Test
    void searchOrderStartsWithTheConfiguredHomes(@TempDir Path home) {
        Map<String, String> env =
                Map.of("TESSERA_CUDA_HOME", home.toString(), "CUDA_HOME", "/opt/cuda", "LD_LIBRARY_PATH", "/a:/b");
        List<Path> dirs = CudaLibraries.searchPath(env::get);
        assertEquals(home.resolve("lib64"), dirs.get(0));
        assertEquals(home.resolve("targets/x86_64-linux/lib"), dirs.get(1));
        assertTrue(dirs.indexOf(Path.of("/opt/cuda/lib64")) > dirs.indexOf(home.resolve("lib64")));
        assertTrue(dirs.indexOf(Path.of("/a")) > dirs.indexOf(Path.of("/opt/cuda/lib64")));
        assertTrue(dirs.contains(Path.of("/b")));
    }

    @Test
    void aFileThatIsNotALibraryIsReportedNotLoaded(@TempDir Path home) throws Exception {
        Path lib = home.resolve("lib64");
        Files.createDirectories(lib);
        Files.writeString(lib.resolve("libnvrtc.so.13"), "not an ELF file");
        CudaLibraries.Found nvrtc = CudaLibraries.locate(Map.of("TESSERA_CUDA_HOME", home.toString())::get).stream()
                .filter(f -> f.name().equals("nvrtc"))
                .findFirst()
                .orElseThrow();
        assertEquals(lib.resolve("libnvrtc.so.13"), nvrtc.path());
        assertTrue(nvrtc.problem().startsWith("found but cannot be loaded"), nvrtc.problem());
    }

    @Test
    void everyLibraryGetsAnAnswer() {
        List<CudaLibraries.Found> all = CudaLibraries.locate(k -> null);
        assertEquals(4, all.size());
        for (CudaLibraries.Found f : all) {
            assertTrue(f.ok() || f.problem() != null, f.toString());
            if (f.ok()) {
                assertNull(f.problem());
            }
        }
    }
}
