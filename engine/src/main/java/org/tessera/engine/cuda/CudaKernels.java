package org.tessera.engine.cuda;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.tessera.ffi.CudaRuntime;
import org.tessera.ffi.Nvrtc;

/**
 * The CUDA C kernels shipped in the jar ({@code org/tessera/engine/cuda/kernels/*.cu}), compiled
 * by NVRTC for the device's architecture on first use and cached on disk: a cubin is keyed by
 * the SHA-256 of its source, the shared header, the architecture and the NVRTC version, so a
 * changed kernel or toolkit never reuses a stale binary.
 */
final class CudaKernels {
    static final List<String> SOURCES = List.of("elementwise.cu", "norms.cu", "attention.cu", "tables.cu", "data.cu");
    static final String HEADER = "common.cuh";
    private static final String ROOT = "/org/tessera/engine/cuda/kernels/";

    private final Map<String, MemorySegment> kernels = new java.util.concurrent.ConcurrentHashMap<>();
    private final Map<String, MemorySegment> libraries = new HashMap<>();

    /** Compiles (or loads from {@code cacheDir}) every source for {@code arch}, e.g. {@code sm_90}. */
    CudaKernels(String arch, Path cacheDir) {
        String header = resource(HEADER);
        String nvrtc = Nvrtc.version();
        for (String file : SOURCES) {
            String source = resource(file);
            byte[] cubin = cached(cacheDir, file, arch, nvrtc, source, header);
            libraries.put(file, CudaRuntime.loadLibrary(cubin, file + " for " + arch));
        }
    }

    /** The kernel named {@code name} in {@code file}, looked up once. */
    MemorySegment kernel(String file, String name) {
        return kernels.computeIfAbsent(name, n -> CudaRuntime.kernel(libraries.get(file), n));
    }

    private static byte[] cached(Path dir, String file, String arch, String nvrtc, String source, String header) {
        String key = sha256(file + "\0" + arch + "\0" + nvrtc + "\0" + header + "\0" + source)
                .substring(0, 24);
        Path path = dir == null ? null : dir.resolve(file.replace(".cu", "") + "-" + arch + "-" + key + ".cubin");
        if (path != null && Files.isRegularFile(path)) {
            try {
                return Files.readAllBytes(path);
            } catch (IOException e) {
                // An unreadable cache entry is rebuilt below.
            }
        }
        byte[] cubin = Nvrtc.compile(file, source, Map.of(HEADER, header), arch, List.of());
        if (path != null) {
            try {
                Files.createDirectories(dir);
                Path tmp = Files.createTempFile(dir, file, ".tmp");
                Files.write(tmp, cubin);
                Files.move(tmp, path, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (IOException e) {
                // The cache is an optimisation: a read-only home only costs a compile per process.
            }
        }
        return cubin;
    }

    /** The default cache folder: $XDG_CACHE_HOME/tessera/cuda or ~/.cache/tessera/cuda. */
    static Path defaultCacheDir() {
        String xdg = System.getenv("XDG_CACHE_HOME");
        Path base = xdg != null && !xdg.isBlank() ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".cache");
        return base.resolve("tessera").resolve("cuda");
    }

    static String resource(String name) {
        try (InputStream in = CudaKernels.class.getResourceAsStream(ROOT + name)) {
            if (in == null) {
                throw new IllegalStateException("kernel source " + name + " is missing from the jar");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static String sha256(String s) {
        try {
            return HexFormat.of()
                    .formatHex(MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
