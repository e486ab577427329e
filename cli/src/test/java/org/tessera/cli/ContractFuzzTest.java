package org.tessera.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessera.testing.RepoFiles;

/**
 * Holds the command line to its error contract over mutants of the samples, the standard library
 * and a checkpoint, the way an attacker or a careless edit would produce them: every case either
 * succeeds or exits 1 or 2 with one-line messages that carry a {@code file:line:col} or name the
 * file; never a stack trace, a hang, an out-of-memory death, a write outside {@code --out} or a
 * temporary file left behind.
 *
 * <p>Seeded and bounded: {@code fuzz.cases} cases (default 1500) or {@code fuzz.seconds} seconds
 * (default 60), whichever ends first, from {@code fuzz.seed}. {@code scripts/fuzz} runs the same
 * cases longer and prints the tally.
 */
class ContractFuzzTest {
    private static final long SEED = Long.getLong("fuzz.seed", 20261206L);
    private static final int CASES = Integer.getInteger("fuzz.cases", 1500);
    private static final long SECONDS = Long.getLong("fuzz.seconds", 60);
    /** A case slower than this is a hang: the largest legal mutant of these tiny models takes seconds. */
    private static final long CASE_SECONDS = Long.getLong("fuzz.caseSeconds", 60);

    private static final Pattern LOCATED = Pattern.compile("\\.tess:\\d+:\\d+: (error|warning): ");
    private static final Pattern NUMBER = Pattern.compile("(?<![\\w.])\\d+(\\.\\d+)?");
    private static final Pattern STRING = Pattern.compile("\"[^\"\\n]*\"");
    private static final Pattern IDENT = Pattern.compile("[A-Za-z_][A-Za-z0-9_]*");

    private static final String[] NUMBERS = {
        "0",
        "-1",
        "1",
        "3",
        "7",
        "-8",
        "65536",
        "1000000",
        "2147483647",
        "2147483648",
        "99999999999",
        "-99999999999",
        "99999999999999999999999",
        "1e308",
        "1e-320",
        "0.0",
        "-0.0",
        "1.5"
    };
    private static final String[] SNIPPETS = {
        "(",
        ")",
        "{",
        "}",
        "[",
        "]",
        ",",
        "=",
        "\"",
        "..",
        "-",
        "*",
        "/",
        "\n",
        "#",
        "/*",
        "\u0000",
        "é",
        "𝛼",
        "\uFEFF",
        "if true {",
        "return x",
        "let",
        "sub s = DiT()",
        "repeat(100000)",
        "(".repeat(3000),
        "-".repeat(3000) + "1",
        "[".repeat(2000),
        "import \"dit.tess\"\n",
        "import \"/etc/passwd\"\n",
        "weight w: [100000, 100000, 100000]\n",
        "output \"../outside/x.png\" = png(samples)\n"
    };
    private static final String[] STRINGS = {
        "",
        "../outside/escape.png",
        "a/../../outside/b.png",
        "OUTSIDE/abs.png",
        "dir/",
        "sub/x.png",
        "ü.png",
        "\u0001",
        "no-such.safetensors",
        ".",
        "/dev/zero",
        "/etc/passwd",
        "/proc/self/mem",
        "weights.safetensors",
        "x.safetensors",
        "grid.png"
    };

    @TempDir
    Path tmp;

    private final Random random = new Random(SEED);
    private final List<String> violations = new ArrayList<>();
    private int clean;
    private int accepted;
    private int traces;
    private int hangs;
    private int outOfMemory;
    private int outside;

    @Test
    void mutantsOfScriptsAndCheckpointsKeepTheErrorContract() throws Exception {
        List<Path> scripts = new ArrayList<>();
        try (Stream<Path> s = Files.list(RepoFiles.root().resolve("samples"))) {
            s.filter(p -> p.toString().endsWith(".tess")).sorted().forEach(scripts::add);
        }
        Path stdlib = RepoFiles.root().resolve("dsl/src/main/resources/org/tessera/dsl/stdlib");
        byte[] checkpoint = Files.readAllBytes(RepoFiles.golden("dit_tiny.safetensors"));
        byte[] inputs = Files.readAllBytes(RepoFiles.golden("dit_tiny_reference.safetensors"));
        String sampler = Files.readString(RepoFiles.sample("dit-tiny-sample.tess"));

        long deadline = System.nanoTime() + SECONDS * 1_000_000_000L;
        ExecutorService worker = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "fuzz-case");
            t.setDaemon(true); // a hung case must not keep the test JVM alive
            return t;
        });
        int cases = 0;
        try {
            for (; cases < CASES && System.nanoTime() < deadline && hangs == 0; cases++) {
                Path dir = Files.createDirectories(tmp.resolve("case-" + cases));
                Files.write(dir.resolve("dit_tiny.safetensors"), checkpoint);
                Files.write(dir.resolve("dit_tiny_reference.safetensors"), inputs);
                String[] args;
                String what;
                switch (random.nextInt(6)) {
                    case 0, 1, 2 -> { // a sample, mutated, checked and (when it is a small one) run
                        Path original = scripts.get(random.nextInt(scripts.size()));
                        String text = goldensHere(Files.readString(original));
                        Path script = dir.resolve(original.getFileName());
                        byte[] mutant = mutate(text, dir);
                        Files.write(script, mutant);
                        boolean small = !original.getFileName().toString().contains("xl");
                        what = "mutant of samples/" + original.getFileName();
                        args = small && random.nextBoolean()
                                ? runArgs(script, dir)
                                : new String[] {"check", script.toString()};
                    }
                    case 3 -> { // a standard-library file, mutated, shadowing the shipped one
                        String[] libs = {"dit.tess", "layers.tess", "samplers.tess"};
                        String lib = libs[random.nextInt(libs.length)];
                        Files.write(dir.resolve(lib), mutate(Files.readString(stdlib.resolve(lib)), dir));
                        Path script = dir.resolve("p.tess");
                        Files.writeString(
                                script,
                                (lib.equals("samplers.tess") ? "import \"samplers.tess\"\n" : "")
                                        + goldensHere(sampler));
                        what = "mutant of stdlib/" + lib;
                        args = random.nextBoolean() ? runArgs(script, dir) : new String[] {"check", script.toString()};
                    }
                    default -> { // a checkpoint, corrupted, inspected or run
                        Files.write(dir.resolve("dit_tiny.safetensors"), corrupt(checkpoint));
                        Path script = dir.resolve("p.tess");
                        Files.writeString(script, goldensHere(sampler));
                        what = "corrupt checkpoint";
                        args = random.nextBoolean()
                                ? new String[] {
                                    "inspect",
                                    dir.resolve("dit_tiny.safetensors").toString()
                                }
                                : runArgs(script, dir);
                    }
                }
                judge(cases, what, dir, args, worker);
            }
        } finally {
            worker.shutdownNow();
        }
        String tally = String.format(
                Locale.ROOT,
                "fuzz: %d cases (seed %d): %d clean errors, %d accepted, %d traces, %d hangs, %d out of memory,"
                        + " %d writes outside --out",
                cases,
                SEED,
                clean,
                accepted,
                traces,
                hangs,
                outOfMemory,
                outside);
        System.out.println(tally);
        assertEquals(List.of(), violations, tally);
    }

    /** {@code run} with two sampler steps (a mutant may ask for many; this bounds the honest ones). */
    private static String[] runArgs(Path script, Path dir) {
        return new String[] {
            "run", script.toString(), "--out", dir.resolve("out").toString(), "--threads", "1"
        };
    }

    /** The samples name the goldens as ../../shared/goldens/…; the case's folder holds copies. */
    private static String goldensHere(String text) {
        return text.replace("../../shared/goldens/", "");
    }

    private void judge(int index, String what, Path dir, String[] args, ExecutorService worker) throws IOException {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        Future<Integer> f = worker.submit(
                () -> TesseraCommand.execute(args, new PrintWriter(out, true), new PrintWriter(err, true)));
        int code;
        try {
            code = f.get(CASE_SECONDS, TimeUnit.SECONDS);
        } catch (TimeoutException e) {
            hangs++;
            fail(index, what, dir, args, "no answer in " + CASE_SECONDS + " s", err.toString());
            return;
        } catch (ExecutionException e) {
            traces++;
            fail(index, what, dir, args, "threw " + e.getCause(), err.toString());
            return;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return;
        }
        String e = err.toString();
        if (Files.exists(tmp.resolve("outside")) || Files.exists(dir.resolve("OUTSIDE"))) {
            outside++;
            fail(index, what, dir, args, "wrote outside --out", e);
        }
        List<String> stray = strayFiles(dir);
        if (!stray.isEmpty()) {
            fail(index, what, dir, args, "left " + stray, e);
        }
        if (e.contains("\tat ") || e.contains("Exception") || e.contains("java.lang.")) {
            traces++;
            fail(index, what, dir, args, "a stack trace or an exception's name", e);
        } else if (e.contains("out of memory")) {
            outOfMemory++;
            fail(index, what, dir, args, "out of memory", e);
        } else if (code == 0) {
            accepted++;
        } else if ((code == 1 || code == 2) && located(e, dir)) {
            clean++;
        } else {
            fail(index, what, dir, args, "exit " + code + " without a located message", e);
        }
    }

    /** Each error names where: a script position, or a file of the case. */
    private static boolean located(String err, Path dir) {
        for (String line : err.lines().toList()) {
            if (line.startsWith("tessera: error: ")) {
                return line.contains(dir.toString())
                        || line.contains(".safetensors")
                        || line.contains(".tess")
                        || LOCATED.matcher(line).find();
            }
        }
        return LOCATED.matcher(err).find();
    }

    /** Hidden temporary files, or files other than the case's inputs and outputs. */
    private static List<String> strayFiles(Path dir) throws IOException {
        try (Stream<Path> s = Files.walk(dir)) {
            return s.filter(Files::isRegularFile)
                    .map(p -> dir.relativize(p).toString())
                    .filter(n -> n.contains(".tmp") || n.startsWith(".") || n.contains("/."))
                    .toList();
        }
    }

    private void fail(int index, String what, Path dir, String[] args, String why, String err) throws IOException {
        Path keep = Path.of("target", "fuzz-failures", "case-" + index);
        Files.createDirectories(keep);
        try (Stream<Path> s = Files.list(dir)) {
            for (Path p : s.filter(Files::isRegularFile).toList()) {
                Files.copy(p, keep.resolve(p.getFileName()), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            }
        }
        violations.add("case " + index + " (" + what + ", " + String.join(" ", args) + "): " + why + " — kept in "
                + keep.toAbsolutePath() + "\n" + err.lines().limit(8).reduce("", (a, b) -> a + "    " + b + "\n"));
    }

    // ------------------------------------------------------------------ mutations

    /** One to three random edits of {@code text}; the result may be invalid UTF-8. */
    private byte[] mutate(String text, Path dir) {
        String s = text;
        int edits = 1 + random.nextInt(3);
        for (int i = 0; i < edits; i++) {
            s = switch (random.nextInt(9)) {
                case 0 -> replaceOne(s, NUMBER, NUMBERS[random.nextInt(NUMBERS.length)]);
                case 1 ->
                    replaceOne(
                            s,
                            STRING,
                            "\""
                                    + STRINGS[random.nextInt(STRINGS.length)].replace(
                                            "OUTSIDE", dir.resolve("OUTSIDE").toString())
                                    + "\"");
                case 2 -> insert(s, SNIPPETS[random.nextInt(SNIPPETS.length)]);
                case 3 -> deleteRange(s);
                case 4 -> lineEdit(s);
                case 5 -> replaceOne(s, IDENT, anyMatch(s, IDENT));
                case 6 -> s.substring(0, random.nextInt(s.length() + 1)); // truncated
                case 7 ->
                    replaceOne(
                            s,
                            NUMBER,
                            NUMBER.matcher(s)
                                    .results()
                                    .map(m -> m.group())
                                    .findAny()
                                    .orElse("1"));
                default -> insert(s, SNIPPETS[random.nextInt(SNIPPETS.length)]);
            };
        }
        byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
        if (random.nextInt(20) == 0 && bytes.length > 0) { // invalid UTF-8
            bytes[random.nextInt(bytes.length)] = (byte) (0x80 | random.nextInt(0x40));
        }
        return bytes;
    }

    private String replaceOne(String s, Pattern p, String replacement) {
        List<int[]> spans = new ArrayList<>();
        Matcher m = p.matcher(s);
        while (m.find()) {
            spans.add(new int[] {m.start(), m.end()});
        }
        if (spans.isEmpty()) {
            return s;
        }
        int[] at = spans.get(random.nextInt(spans.size()));
        return s.substring(0, at[0]) + replacement + s.substring(at[1]);
    }

    private String anyMatch(String s, Pattern p) {
        List<String> all =
                p.matcher(s).results().map(java.util.regex.MatchResult::group).toList();
        return all.isEmpty() ? "x" : all.get(random.nextInt(all.size()));
    }

    private String insert(String s, String snippet) {
        int at = random.nextInt(s.length() + 1);
        return s.substring(0, at) + snippet + s.substring(at);
    }

    private String deleteRange(String s) {
        if (s.isEmpty()) {
            return s;
        }
        int at = random.nextInt(s.length());
        int end = Math.min(s.length(), at + 1 + random.nextInt(40));
        return s.substring(0, at) + s.substring(end);
    }

    private String lineEdit(String s) {
        List<String> lines = new ArrayList<>(s.lines().toList());
        if (lines.isEmpty()) {
            return s;
        }
        int a = random.nextInt(lines.size());
        int b = random.nextInt(lines.size());
        switch (random.nextInt(3)) {
            case 0 -> lines.add(a, lines.get(b)); // duplicated
            case 1 -> lines.remove(a);
            default -> {
                String t = lines.get(a);
                lines.set(a, lines.get(b));
                lines.set(b, t);
            }
        }
        return String.join("\n", lines) + "\n";
    }

    /** A checkpoint with its header length, header text or data corrupted, or cut short. */
    private byte[] corrupt(byte[] file) {
        byte[] b = file.clone();
        long headerLength = java.nio.ByteBuffer.wrap(b, 0, 8)
                .order(java.nio.ByteOrder.LITTLE_ENDIAN)
                .getLong();
        switch (random.nextInt(7)) {
            case 0 -> { // header length: random, huge, negative, off by a little
                long[] lengths = {random.nextLong(), Long.MAX_VALUE, -1, 0, headerLength + 1, headerLength - 1, 1L << 40
                };
                java.nio.ByteBuffer.wrap(b, 0, 8)
                        .order(java.nio.ByteOrder.LITTLE_ENDIAN)
                        .putLong(lengths[random.nextInt(lengths.length)]);
            }
            case 1 -> { // random bytes in the header
                for (int i = 0; i < 1 + random.nextInt(8); i++) {
                    b[8 + random.nextInt((int) headerLength)] = (byte) random.nextInt(256);
                }
            }
            case 2 -> { // a number in the header (an offset, a shape) changed
                String header = new String(b, 8, (int) headerLength, StandardCharsets.UTF_8);
                String changed = replaceOne(header, NUMBER, NUMBERS[random.nextInt(NUMBERS.length)]);
                byte[] h = changed.getBytes(StandardCharsets.UTF_8);
                byte[] out = new byte[8 + h.length + (b.length - 8 - (int) headerLength)];
                java.nio.ByteBuffer.wrap(out, 0, 8)
                        .order(java.nio.ByteOrder.LITTLE_ENDIAN)
                        .putLong(h.length);
                System.arraycopy(h, 0, out, 8, h.length);
                System.arraycopy(b, 8 + (int) headerLength, out, 8 + h.length, b.length - 8 - (int) headerLength);
                return out;
            }
            case 3 -> { // a dtype changed
                String header = new String(b, 8, (int) headerLength, StandardCharsets.ISO_8859_1);
                String[] dtypes = {"\"F16\"", "\"BF16\"", "\"I64\"", "\"U8\"", "\"F64\"", "\"XX\"", "\"\""};
                String changed = header.replaceFirst("\"F32\"", dtypes[random.nextInt(dtypes.length)]);
                byte[] h = changed.getBytes(StandardCharsets.ISO_8859_1);
                if (h.length == headerLength) {
                    System.arraycopy(h, 0, b, 8, h.length);
                } else {
                    b = replaceHeader(b, (int) headerLength, h);
                }
            }
            case 4 -> b = java.util.Arrays.copyOf(b, random.nextInt(b.length)); // cut short
            case 5 -> b = java.util.Arrays.copyOf(b, b.length + 1 + random.nextInt(4096)); // trailing bytes
            default -> { // NaN and infinities in the data
                for (int i = 0; i < 1 + random.nextInt(4); i++) {
                    int at = 8 + (int) headerLength + 4 * random.nextInt((b.length - 8 - (int) headerLength) / 4);
                    int bits = random.nextBoolean() ? 0x7fc00000 : 0x7f800000;
                    java.nio.ByteBuffer.wrap(b, at, 4)
                            .order(java.nio.ByteOrder.LITTLE_ENDIAN)
                            .putInt(bits);
                }
            }
        }
        return b;
    }

    private static byte[] replaceHeader(byte[] b, int headerLength, byte[] h) {
        byte[] out = new byte[8 + h.length + (b.length - 8 - headerLength)];
        java.nio.ByteBuffer.wrap(out, 0, 8)
                .order(java.nio.ByteOrder.LITTLE_ENDIAN)
                .putLong(h.length);
        System.arraycopy(h, 0, out, 8, h.length);
        System.arraycopy(b, 8 + headerLength, out, 8 + h.length, b.length - 8 - headerLength);
        return out;
    }
}
