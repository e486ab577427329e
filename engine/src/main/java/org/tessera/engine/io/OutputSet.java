package org.tessera.engine.io;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Files that appear together or not at all. Each is written to a hidden temporary sibling
 * ({@code .name.<random>.tmp}); {@link #commit} renames them all into place at once, and
 * {@link #close} without a commit deletes them. An interrupted process (Ctrl-C, SIGTERM) deletes
 * every uncommitted temporary file in a shutdown hook, and a commit and that hook exclude each
 * other: a run interrupted before its commit leaves no outputs and no temporary files, one
 * interrupted after leaves all of them.
 *
 * <p>Temporary files are created with the default permissions, so outputs follow the umask like
 * any other file the user makes ({@code Files.createTempFile} would make them 0600). Only a
 * rename failing part-way through a commit (the disk vanishing) can leave part of a set.
 */
public final class OutputSet implements AutoCloseable {
    private static final Object LOCK = new Object();
    private static final Set<OutputSet> OPEN = new HashSet<>(); // guarded by LOCK
    private static boolean shuttingDown; // guarded by LOCK

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(OutputSet::abandonAll, "tessera-output-cleanup"));
    }

    private final Map<Path, Path> staged = new LinkedHashMap<>(); // target → temporary; guarded by LOCK

    private OutputSet() {}

    /** A new, empty set; refused once the process is being interrupted. */
    public static OutputSet open() throws IOException {
        OutputSet set = new OutputSet();
        synchronized (LOCK) {
            if (shuttingDown) {
                throw new InterruptedIOException("interrupted: no outputs written");
            }
            OPEN.add(set);
        }
        return set;
    }

    /**
     * Creates the hidden temporary file that will become {@code target}, and returns it for the
     * caller to write.
     *
     * @throws IOException naming {@code target} when its folder cannot be written, or when the set
     *     already holds it
     */
    public Path stage(Path target) throws IOException {
        Path file = target.toAbsolutePath().normalize();
        Path dir = file.getParent();
        Path tmp;
        try {
            Files.createDirectories(dir);
            tmp = createHidden(dir, file.getFileName().toString());
        } catch (AccessDeniedException e) {
            throw new IOException("cannot write " + target + ": permission denied", e);
        } catch (IOException e) {
            throw new IOException("cannot write " + target + ": " + e.getMessage(), e);
        }
        synchronized (LOCK) {
            if (shuttingDown || staged.containsKey(file)) {
                Files.deleteIfExists(tmp);
                throw shuttingDown
                        ? new InterruptedIOException("interrupted: no outputs written")
                        : new IOException("two outputs write the same file " + target);
            }
            staged.put(file, tmp);
        }
        return tmp;
    }

    /**
     * Renames every staged file into place, replacing what was there; returns the files in the
     * order they were staged.
     */
    public List<Path> commit() throws IOException {
        synchronized (LOCK) {
            if (shuttingDown) {
                throw new InterruptedIOException("interrupted: no outputs written");
            }
            List<Path> done = new ArrayList<>();
            for (Map.Entry<Path, Path> e : staged.entrySet()) {
                Files.move(
                        e.getValue(), e.getKey(), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
                done.add(e.getKey());
            }
            staged.clear();
            OPEN.remove(this);
            return done;
        }
    }

    /** Deletes every temporary file not committed. */
    @Override
    public void close() {
        synchronized (LOCK) {
            deleteStaged();
            OPEN.remove(this);
        }
    }

    private void deleteStaged() {
        for (Path tmp : staged.values()) {
            try {
                Files.deleteIfExists(tmp);
            } catch (IOException e) {
                // best effort: a folder made unwritable meanwhile keeps its hidden file
            }
        }
        staged.clear();
    }

    private static void abandonAll() {
        synchronized (LOCK) {
            shuttingDown = true;
            OPEN.forEach(OutputSet::deleteStaged);
            OPEN.clear();
        }
    }

    /** {@code .name.<random>.tmp}, created empty with the default permissions (the umask's). */
    private static Path createHidden(Path dir, String name) throws IOException {
        for (int attempt = 0; ; attempt++) {
            Path tmp = dir.resolve("." + name + "."
                    + Long.toHexString(ThreadLocalRandom.current().nextLong()) + ".tmp");
            try {
                FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)
                        .close();
                return tmp;
            } catch (FileAlreadyExistsException e) {
                if (attempt == 16) {
                    throw e;
                }
            }
        }
    }
}
