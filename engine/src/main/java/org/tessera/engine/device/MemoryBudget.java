package org.tessera.engine.device;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.OptionalLong;
import org.tessera.engine.tensor.ByteSizes;

/**
 * How much memory this process may still take, asked before a model's weights and buffers are
 * allocated. Both live off the Java heap (memory-mapped files and native arenas), where no
 * {@code -Xmx} bounds them: without this check an absurd size runs until the kernel's
 * out-of-memory killer or a native allocation failure ends it.
 *
 * <p>The figure is the kernel's MemAvailable, lowered to what the cgroup (container) still allows;
 * {@code TESSERA_MEMORY_LIMIT} (or the system property {@code tessera.memory.limit}: bytes, or
 * with a K/M/G/T suffix) overrides it. Where none of these
 * can be read (not Linux), nothing is refused.
 */
public final class MemoryBudget {
    private static final Path MEMINFO = Path.of("/proc/meminfo");
    private static final Path CGROUP = Path.of("/sys/fs/cgroup");

    private MemoryBudget() {}

    /** Bytes this process may still allocate, if known. */
    public static OptionalLong available() {
        String limit = limitSetting();
        if (limit != null && !limit.isBlank()) {
            return OptionalLong.of(parseBytes(limit.strip()));
        }
        OptionalLong meminfo = memAvailable();
        OptionalLong cgroup = cgroupHeadroom();
        if (meminfo.isPresent() && cgroup.isPresent()) {
            return OptionalLong.of(Math.min(meminfo.getAsLong(), cgroup.getAsLong()));
        }
        return meminfo.isPresent() ? meminfo : cgroup;
    }

    /**
     * Refuses {@code bytes} when they do not fit what is available.
     *
     * @param what what needs the memory and how it divides, e.g. {@code "DiT (weights 2.53 GiB,
     *     buffers 310.2 MiB)"}
     * @throws InsufficientMemoryException naming {@code what}, the size and what is available
     */
    public static void require(long bytes, String what) {
        OptionalLong available = available();
        if (available.isPresent() && bytes > available.getAsLong()) {
            throw new InsufficientMemoryException(what + ": about " + ByteSizes.format(bytes) + " needed, but only "
                    + ByteSizes.format(available.getAsLong()) + " of memory is available"
                    + (limitSetting() != null ? " (the limit set by TESSERA_MEMORY_LIMIT)" : ""));
        }
    }

    /** The {@code tessera.memory.limit} property (for an embedding application), else the environment's. */
    private static String limitSetting() {
        return System.getProperty("tessera.memory.limit", System.getenv("TESSERA_MEMORY_LIMIT"));
    }

    /** {@code 512}, {@code 64M}, {@code 2G}, {@code 1.5T} → bytes. */
    static long parseBytes(String text) {
        String t = text.toUpperCase(Locale.ROOT).replaceAll("I?B$", "");
        long unit = switch (t.isEmpty() ? ' ' : t.charAt(t.length() - 1)) {
            case 'K' -> 1L << 10;
            case 'M' -> 1L << 20;
            case 'G' -> 1L << 30;
            case 'T' -> 1L << 40;
            default -> 1;
        };
        String number = unit == 1 ? t : t.substring(0, t.length() - 1);
        try {
            double v = Double.parseDouble(number.strip());
            if (v < 0 || Double.isNaN(v)) {
                throw new NumberFormatException();
            }
            return (long) Math.min(v * unit, Long.MAX_VALUE);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(
                    "TESSERA_MEMORY_LIMIT must be a size such as 8G or 512M, got '" + text + "'", e);
        }
    }

    /** MemAvailable of /proc/meminfo: free memory plus what the kernel can reclaim. */
    private static OptionalLong memAvailable() {
        try {
            for (String line : Files.readAllLines(MEMINFO)) {
                if (line.startsWith("MemAvailable:")) {
                    String[] f = line.substring("MemAvailable:".length()).trim().split("\\s+");
                    return OptionalLong.of(Long.parseLong(f[0]) * 1024); // in kB
                }
            }
        } catch (IOException | RuntimeException e) {
            // not Linux, or a kernel without it: unknown
        }
        return OptionalLong.empty();
    }

    /** memory.max − memory.current of this process's cgroup (v2), when it has a limit. */
    private static OptionalLong cgroupHeadroom() {
        try {
            String max = Files.readString(CGROUP.resolve("memory.max")).strip();
            if (max.equals("max")) {
                return OptionalLong.empty();
            }
            long current = Long.parseLong(
                    Files.readString(CGROUP.resolve("memory.current")).strip());
            return OptionalLong.of(Math.max(0, Long.parseLong(max) - current));
        } catch (IOException | RuntimeException e) {
            return OptionalLong.empty();
        }
    }
}
