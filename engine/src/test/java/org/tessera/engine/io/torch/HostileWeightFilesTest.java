package org.tessera.engine.io.torch;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.SequencedMap;
import java.util.SplittableRandom;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.tessera.engine.io.WeightFile;
import org.tessera.engine.io.WeightsFormatException;
import org.tessera.engine.tensor.Tensor;

/**
 * Broken and hostile weight files, PyTorch and safetensors alike: each is refused with a
 * {@link WeightsFormatException} that names the file — never another exception, an out-of-memory
 * or a hang — and thousands of randomly mutated files either load whole or are refused so.
 */
class HostileWeightFilesTest {
    @TempDir
    static Path dir;

    private static SequencedMap<String, TorchZipWriter.Tensor> twoTensors() {
        SequencedMap<String, TorchZipWriter.Tensor> t = new LinkedHashMap<>();
        t.put("a", new TorchZipWriter.Tensor(new int[] {2, 3}, new float[] {1, 2, 3, 4, 5, 6}));
        t.put("b", new TorchZipWriter.Tensor(new int[] {4}, new float[] {7, 8, 9, 10}));
        return t;
    }

    /** The pickle of {@link #twoTensors} with one piece of text replaced (bytes of equal meaning elsewhere). */
    private static byte[] pickleWith(String from, String to) {
        String p = new String(TorchZipWriter.pickle(twoTensors()), StandardCharsets.ISO_8859_1);
        assertTrue(p.contains(from), from);
        return p.replaceFirst(java.util.regex.Pattern.quote(from), java.util.regex.Matcher.quoteReplacement(to))
                .getBytes(StandardCharsets.ISO_8859_1);
    }

    private static Path pt(String name, byte[] pickle) throws IOException {
        Path f = dir.resolve(name + ".pt");
        TorchZipWriter.write(f, pickle, twoTensors());
        return f;
    }

    private static Path bytes(String name, byte[] content) throws IOException {
        return Files.write(dir.resolve(name), content);
    }

    private static byte[] le32(int v) {
        return ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(v).array();
    }

    private static Path safetensors(String name, String json, int dataBytes) throws IOException {
        byte[] header = json.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + header.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(header.length).put(header);
        return bytes(name + ".safetensors", b.array());
    }

    private static Path truncated(Path f, long keep) throws IOException {
        byte[] all = Files.readAllBytes(f);
        return bytes("cut-" + f.getFileName(), Arrays.copyOf(all, (int) keep));
    }

    static Stream<Arguments> hostileFiles() throws Exception {
        Path good = dir.resolve("good.pt");
        TorchZipWriter.write(good, twoTensors());
        Path legacy = TorchCheckpointReaderTest.resource("tiny-legacy.pt");
        byte[] legacyBytes = Files.readAllBytes(legacy);
        List<Arguments> cases = new ArrayList<>();
        // --- PyTorch archives
        cases.add(Arguments.of(
                pt("system", pickleWith("collections\nOrderedDict", "os\nsystem")), "refused global os.system"));
        cases.add(Arguments.of(
                pt("eval", pickleWith("collections\nOrderedDict", "builtins\neval")), "refused global builtins.eval"));
        cases.add(Arguments.of(
                pt("popen", pickleWith("torch._utils\n_rebuild_tensor_v2", "subprocess\nPopen")),
                "refused global subprocess.Popen"));
        cases.add(Arguments.of(pt("opcode", pickleWith("}", "i")), "pickle opcode 0x69"));
        cases.add(Arguments.of(
                pt("no-stop", Arrays.copyOf(TorchZipWriter.pickle(twoTensors()), 40)), "the pickle ends early"));
        cases.add(Arguments.of(
                pt("storage-key", pickleWith("X\u0001\u0000\u0000\u00000", "X\u0001\u0000\u0000\u00009")),
                "storage 9 has no member"));
        cases.add(Arguments.of(
                pt("path-key", pickleWith("X\u0001\u0000\u0000\u00000", "X\u0001\u0000\u0000\u0000/")),
                "not a plain name"));
        cases.add(Arguments.of(
                pt("numel", pickleWith("J\u0006\u0000\u0000\u0000t", "J\u0006\u0000\u0000\u0010t")), "should hold"));
        cases.add(Arguments.of(
                pt("size", pickleWith("J\u0003\u0000\u0000\u0000J\u0001", "J\u0004\u0000\u0000\u0000J\u0001")),
                "reach element"));
        cases.add(Arguments.of(
                pt("stride", pickleWith("J\u0003\u0000\u0000\u0000J\u0001", "J\u00fd\u00ff\u00ff\u00ffJ\u0001")),
                "out of range"));
        cases.add(Arguments.of(pt("memo", pickleWith("}(", "}h\u0007(")), "memo entry 7 is read before it is written"));
        cases.add(Arguments.of(
                pt("string", pickleWith("X\u0001\u0000\u0000\u0000a", "X\u00ff\u00ff\u00ff\u007fa")),
                "the pickle ends early"));
        cases.add(Arguments.of(
                pt(
                        "broadcast",
                        pickleWith(
                                "J\u0002\u0000\u0000\u0000J\u0003\u0000\u0000\u0000t(J\u0003\u0000\u0000\u0000J\u0001\u0000\u0000\u0000t",
                                "J\u0000\u0000\u0000\u0040J\u0000\u0000\u0000\u0020t(J\u0000\u0000\u0000\u0000J\u0000\u0000\u0000\u0000t")),
                "elements viewed in a storage of 6"));
        cases.add(Arguments.of(
                pt(
                        "offset",
                        pickleWith(
                                "QJ\u0000\u0000\u0000\u0000(J\u0004\u0000\u0000\u0000t",
                                "QJ\u00e8\u0003\u0000\u0000(J\u0000\u0000\u0000\u0000t")),
                "offset 1000"));
        cases.add(Arguments.of(
                pt(
                        "huge-numel",
                        pickleWith(
                                "J\u0006\u0000\u0000\u0000t",
                                "\u008a\u0008\u00ff\u00ff\u00ff\u00ff\u00ff\u00ff\u00ff\u003ft")),
                "should hold"));
        // a legacy file whose second pickle is a list that contains itself: printing it would recurse
        byte[] self = {(byte) 0x80, 2, ']', 'q', 0, 'h', 0, 'a', '.'}; // [], memo 0, get 0, append
        byte[] selfList = Arrays.copyOf(legacyBytes, 15 + self.length); // 15: the magic number's pickle
        System.arraycopy(self, 0, selfList, 15, self.length);
        cases.add(Arguments.of(bytes("self.pt", selfList), "legacy protocol version list"));
        cases.add(Arguments.of(truncated(good, Files.size(good) - 30), "no zip end-of-directory record"));
        cases.add(Arguments.of(bytes("empty-zip.pt", new byte[] {'P', 'K', 3, 4}), "no zip end-of-directory record"));
        cases.add(Arguments.of(truncated(legacy, legacyBytes.length - 10), "past the end of the"));
        byte[] badMagic = legacyBytes.clone();
        badMagic[6] ^= 0x55;
        cases.add(Arguments.of(bytes("magic.pt", badMagic), "wrong magic number"));
        // --- safetensors
        cases.add(Arguments.of(bytes("short.safetensors", new byte[] {1, 2, 3}), "too short"));
        ByteBuffer huge = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(Long.MAX_VALUE - 3);
        cases.add(Arguments.of(bytes("header-size.safetensors", huge.array()), "is absurd"));
        cases.add(Arguments.of(safetensors("json", "{\"a\": [1, 2", 0), "not valid JSON"));
        cases.add(Arguments.of(
                safetensors("offsets", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8),
                "reversed or negative"));
        cases.add(Arguments.of(
                safetensors(
                        "overlap",
                        "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
                        12),
                "overlap"));
        cases.add(Arguments.of(
                safetensors(
                        "past-end", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1000000],\"data_offsets\":[0,4000000]}}", 8),
                "run past"));
        cases.add(Arguments.of(
                safetensors("dtype", "{\"a\":{\"dtype\":\"Q7\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8),
                "unsupported dtype"));
        return cases.stream();
    }

    @ParameterizedTest(name = "{1}")
    @MethodSource("hostileFiles")
    void isRefusedWithAMessageNamingTheFile(Path file, String expected) {
        Assertions.assertTimeoutPreemptively(Duration.ofSeconds(10), () -> {
            try (WeightFile w = WeightFile.open(file)) {
                for (String name : w.names()) {
                    w.tensor(name).toFloatArray();
                }
                fail(file + " loaded");
            } catch (WeightsFormatException e) {
                assertTrue(e.getMessage().contains(file.toString()), e.getMessage());
                assertTrue(e.getMessage().contains(expected), e.getMessage());
            }
        });
    }

    /**
     * Random byte flips, overwritten words, cuts and splices of real files: every result either
     * loads with all its tensors readable or is refused as a format error, within a time bound.
     */
    @Test
    void mutatedFilesLoadWholeOrAreRefused() throws Exception {
        List<byte[]> seeds = new ArrayList<>();
        for (String r : List.of("tiny.pt", "tiny-legacy.pt", "train.pt", "expected.safetensors")) {
            seeds.add(Files.readAllBytes(TorchCheckpointReaderTest.resource(r)));
        }
        SplittableRandom random = new SplittableRandom(20261206);
        List<UnaryOperator<byte[]>> mutations = List.of(
                b -> { // flip a few bytes
                    byte[] c = b.clone();
                    for (int i = 0, n = 1 + random.nextInt(4); i < n; i++) {
                        c[random.nextInt(c.length)] ^= (byte) (1 + random.nextInt(255));
                    }
                    return c;
                },
                b -> { // a word set to an extreme value, where lengths and offsets live
                    byte[] c = b.clone();
                    int at = random.nextInt(Math.max(1, c.length - 8));
                    long v = switch (random.nextInt(4)) {
                        case 0 -> -1L;
                        case 1 -> Integer.MAX_VALUE;
                        case 2 -> 1L << 40;
                        default -> random.nextLong();
                    };
                    ByteBuffer.wrap(c).order(ByteOrder.LITTLE_ENDIAN).putLong(Math.min(at, c.length - 8), v);
                    return c;
                },
                b -> Arrays.copyOf(b, random.nextInt(b.length)), // cut
                b -> { // a stretch copied over another
                    byte[] c = b.clone();
                    int len = 1 + random.nextInt(64);
                    int from = random.nextInt(Math.max(1, c.length - len));
                    int to = random.nextInt(Math.max(1, c.length - len));
                    System.arraycopy(b, from, c, to, Math.min(len, c.length - Math.max(from, to)));
                    return c;
                });
        Path file = dir.resolve("mutant.bin");
        long deadline = System.nanoTime() + 60_000_000_000L;
        int runs = 0;
        int loaded = 0;
        for (; runs < 4000 && System.nanoTime() < deadline; runs++) {
            byte[] seed = seeds.get(runs % seeds.size());
            byte[] mutant = mutations.get(random.nextInt(mutations.size())).apply(seed);
            Files.write(file, mutant);
            try (WeightFile w = WeightFile.open(file)) {
                for (String name : w.names()) {
                    Tensor t = w.tensor(name);
                    if (t.dtype().isFloatingPoint()) {
                        t.toFloatArray();
                    }
                }
                loaded++;
            } catch (WeightsFormatException e) {
                // refused: what a broken file must give
            } catch (Throwable t) {
                throw new AssertionError("mutant " + runs + " (" + mutant.length + " bytes) gave " + t, t);
            }
        }
        assertTrue(runs >= 1000, "only " + runs + " mutants in the time bound");
        System.out.printf("%d mutated files: %d loaded, %d refused%n", runs, loaded, runs - loaded);
    }
}
