package org.tessera.engine.io;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Locates the shared reference files: {@code ../shared/goldens} beside the repository root.
 * Maven runs tests from the module directory, so the search walks up from the working
 * directory. A missing file is a failure, never a skip: the checks against the reference
 * implementation are the point of these tests.
 */
public final class Goldens {
    private Goldens() {}

    /** {@code dit_tiny_reference.safetensors}. */
    public static Path reference() {
        return file("dit_tiny_reference.safetensors");
    }

    /** A file in the goldens directory; throws if it cannot be found. */
    public static Path file(String name) {
        Path start = Path.of(System.getProperty("user.dir")).toAbsolutePath();
        for (Path p = start; p != null; p = p.getParent()) {
            Path candidate = p.resolve("shared").resolve("goldens").resolve(name);
            if (Files.isRegularFile(candidate)) {
                return candidate;
            }
        }
        throw new AssertionError("golden file " + name + " not found in shared/goldens above " + start);
    }
}
