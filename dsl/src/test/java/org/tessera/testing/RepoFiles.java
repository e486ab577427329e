package org.tessera.testing;

import java.nio.file.Files;
import java.nio.file.Path;

/** Finds the repository's samples and ../shared/goldens from wherever Maven runs the tests. */
public final class RepoFiles {
    private RepoFiles() {}

    /** The repository root (the folder with samples/dit-tiny-forward.tess). */
    public static Path root() {
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
            if (Files.isRegularFile(p.resolve("samples/dit-tiny-forward.tess"))) {
                return p;
            }
        }
        throw new AssertionError("cannot find the repository root (samples/dit-tiny-forward.tess) above "
                + Path.of("").toAbsolutePath());
    }

    public static Path sample(String name) {
        return root().resolve("samples").resolve(name);
    }

    /** ../shared/goldens/NAME next to the repository; fails (does not skip) when missing. */
    public static Path golden(String name) {
        Path p = root().resolveSibling("shared").resolve("goldens").resolve(name);
        if (!Files.isRegularFile(p)) {
            throw new AssertionError("golden file missing: " + p);
        }
        return p;
    }
}
