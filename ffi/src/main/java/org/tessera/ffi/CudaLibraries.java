package org.tessera.ffi;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.SymbolLookup;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/**
 * Finds the CUDA 13 libraries Tessera binds to, without loading anything the JVM would crash on:
 * each candidate folder is searched for the versioned file name and the first hit is opened with
 * {@link SymbolLookup#libraryLookup(Path, Arena)}.
 *
 * <p>{@link #load} then loads the libraries found into this class loader with
 * {@link System#load}, which is where the generated bindings ({@code org.tessera.ffi.bindings},
 * made without {@code -l}) look their symbols up.
 *
 * <p>Search order: {@code $TESSERA_CUDA_HOME}, {@code $CUDA_HOME}, {@code /usr/local/cuda*} (newest
 * first), the folders of {@code $LD_LIBRARY_PATH}, and pip's {@code nvidia/<lib>/lib} folders
 * under the Python site-packages found next to {@code python3}. Within a CUDA home both
 * {@code lib64} and {@code targets/x86_64-linux/lib} are tried.
 */
public final class CudaLibraries {
    /** The libraries, by the name Tessera uses for them. */
    public static final Map<String, String> FILES = Map.of(
            "cudart", "libcudart.so.13",
            "cublas", "libcublas.so.13",
            "cublasLt", "libcublasLt.so.13",
            "nvrtc", "libnvrtc.so.13");

    /** What was found for one library: its path, or null with the reason. */
    public record Found(String name, String file, Path path, String problem) {
        public boolean ok() {
            return path != null && problem == null;
        }
    }

    private CudaLibraries() {}

    /**
     * Loading order: cuBLAS needs cuBLASLt, which the dynamic linker then finds among the
     * libraries already loaded (by its soname) whatever folder it came from.
     */
    private static final List<String> LOAD_ORDER = List.of("cudart", "cublasLt", "cublas", "nvrtc");

    /** Results of {@link #load}, once per process: a library is loaded at most once. */
    private static volatile List<Found> loaded;

    /**
     * Finds every library and loads those found, in dependency order, once per process. A library
     * that fails to load is reported with the reason, never thrown.
     */
    public static synchronized List<Found> load() {
        if (loaded != null) {
            return loaded;
        }
        Map<String, Found> byName = new LinkedHashMap<>();
        for (Found f : locate()) {
            byName.put(f.name(), f);
        }
        List<Found> out = new ArrayList<>();
        for (String name : LOAD_ORDER) {
            Found f = byName.get(name);
            if (f.ok()) {
                try {
                    if (name.equals("nvrtc")) {
                        loadBuiltins(f.path().getParent());
                    }
                    System.load(f.path().toString());
                } catch (UnsatisfiedLinkError e) {
                    f = new Found(f.name(), f.file(), f.path(), "found but cannot be loaded: " + e.getMessage());
                }
            }
            out.add(f);
        }
        loaded = List.copyOf(out);
        return loaded;
    }

    /**
     * NVRTC opens {@code libnvrtc-builtins.so.13.x} by name when it compiles; loading it first
     * from NVRTC's own folder makes that work without LD_LIBRARY_PATH. A failure here is left
     * for NVRTC to report.
     */
    private static void loadBuiltins(Path dir) {
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, "libnvrtc-builtins.so.13*")) {
            for (Path p : ds) {
                System.load(p.toString());
                return;
            }
        } catch (IOException | UnsatisfiedLinkError e) {
            // NVRTC will say what it could not open.
        }
    }

    /** Looks every library up with the process environment. */
    public static List<Found> locate() {
        return locate(System::getenv);
    }

    /** Looks every library up with {@code env} standing for the environment (for tests). */
    public static List<Found> locate(Function<String, String> env) {
        List<Path> dirs = searchPath(env);
        List<Found> out = new ArrayList<>();
        for (String name : List.of("cudart", "cublas", "cublasLt", "nvrtc")) {
            out.add(find(name, FILES.get(name), dirs));
        }
        return out;
    }

    /** The folders searched, in order, without duplicates. */
    public static List<Path> searchPath(Function<String, String> env) {
        Set<Path> dirs = new LinkedHashSet<>();
        for (String var : List.of("TESSERA_CUDA_HOME", "CUDA_HOME")) {
            String home = env.apply(var);
            if (home != null && !home.isBlank()) {
                addHome(dirs, Path.of(home));
            }
        }
        for (Path home : cudaInstalls(Path.of("/usr/local"))) {
            addHome(dirs, home);
        }
        String ld = env.apply("LD_LIBRARY_PATH");
        if (ld != null) {
            for (String d : ld.split(":")) {
                if (!d.isBlank()) {
                    dirs.add(Path.of(d));
                }
            }
        }
        for (Path site : pythonSitePackages()) {
            // CUDA 13 wheels share nvidia/cu13/lib; CUDA 12's kept one folder per library.
            dirs.add(site.resolve("nvidia").resolve("cu13").resolve("lib"));
            for (String lib : List.of("cuda_runtime", "cublas", "cuda_nvrtc")) {
                dirs.add(site.resolve("nvidia").resolve(lib).resolve("lib"));
            }
        }
        return List.copyOf(dirs);
    }

    private static void addHome(Set<Path> dirs, Path home) {
        dirs.add(home.resolve("lib64"));
        dirs.add(home.resolve("targets/x86_64-linux/lib"));
        dirs.add(home.resolve("lib"));
    }

    /** /usr/local/cuda and /usr/local/cuda-13.x, newest version first. */
    private static List<Path> cudaInstalls(Path root) {
        List<Path> out = new ArrayList<>();
        if (!Files.isDirectory(root)) {
            return out;
        }
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(root, "cuda*")) {
            for (Path p : ds) {
                out.add(p);
            }
        } catch (IOException e) {
            return out;
        }
        out.sort((a, b) -> b.getFileName().toString().compareTo(a.getFileName().toString()));
        return out;
    }

    private static List<Path> pythonSitePackages() {
        List<Path> out = new ArrayList<>();
        for (String root : List.of("/usr/lib/python3/dist-packages", "/usr/local/lib")) {
            Path p = Path.of(root);
            if (Files.isDirectory(p)) {
                out.add(p);
            }
        }
        String home = System.getProperty("user.home");
        if (home != null) {
            Path pyenv = Path.of(home, ".pyenv", "versions");
            if (Files.isDirectory(pyenv)) {
                try (DirectoryStream<Path> versions = Files.newDirectoryStream(pyenv)) {
                    for (Path v : versions) {
                        try (DirectoryStream<Path> libs = Files.newDirectoryStream(v.resolve("lib"), "python3*")) {
                            for (Path l : libs) {
                                out.add(l.resolve("site-packages"));
                            }
                        } catch (IOException ignored) {
                            // not a Python install
                        }
                    }
                } catch (IOException ignored) {
                    // no pyenv versions
                }
            }
        }
        return out;
    }

    private static Found find(String name, String file, List<Path> dirs) {
        Map<Path, String> failures = new LinkedHashMap<>();
        for (Path d : dirs) {
            Path p = d.resolve(file);
            if (!Files.isRegularFile(p)) {
                continue;
            }
            try {
                SymbolLookup.libraryLookup(p, Arena.global());
                return new Found(name, file, p, null);
            } catch (IllegalArgumentException e) {
                failures.put(p, e.getMessage());
            }
        }
        if (!failures.isEmpty()) {
            Map.Entry<Path, String> first = failures.entrySet().iterator().next();
            return new Found(name, file, first.getKey(), "found but cannot be loaded: " + first.getValue());
        }
        return new Found(name, file, null, "not found in " + dirs.size() + " folders (set TESSERA_CUDA_HOME)");
    }
}
