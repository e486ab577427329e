package org.tessera.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.SequencedMap;
import java.util.SplittableRandom;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessera.engine.io.MovingMnist;
import org.tessera.engine.io.SafetensorsWriter;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Tensor;

/** tessera motion: clips that move as Moving MNIST does pass, noise and still clips do not. */
class MotionCommandTest {
    private static final int FRAMES = 8;
    private static final int SIZE = 48;
    private static final int N = 40;

    @TempDir
    Path dir;

    /** IDX "digits": bright 12×12 squares, a different place in each. */
    private Path digits() throws Exception {
        int n = 4;
        ByteBuffer images = ByteBuffer.allocate(16 + n * 784)
                .putInt(0x0803)
                .putInt(n)
                .putInt(28)
                .putInt(28);
        for (int i = 0; i < n; i++) {
            for (int y = 0; y < 28; y++) {
                for (int x = 0; x < 28; x++) {
                    boolean on = y >= 6 + i && y < 18 + i && x >= 8 && x < 20;
                    images.put((byte) (on ? 250 : 0));
                }
            }
        }
        return Files.write(dir.resolve("digits"), images.array());
    }

    /** Clips [N, F, 1, H, W]: rendered Moving MNIST clips of another seed, or noise. */
    private Path clips(String name, boolean noise) throws Exception {
        return clips(name, noise ? 1 : 0);
    }

    /**
     * Clips [N, F, 1, H, W]: rendered Moving MNIST clips of another seed (blotch 0), Gaussian noise
     * (1), or noise constant over blotch×blotch blocks, as a DiT early in training draws it.
     */
    private Path clips(String name, int blotch) throws Exception {
        boolean noise = blotch > 0;
        byte[] idx = Files.readAllBytes(digits());
        byte[] pixels = java.util.Arrays.copyOfRange(idx, 16, idx.length);
        Tensor t = Tensor.zeros(Arena.ofAuto(), DType.F32, N, FRAMES, 1, SIZE, SIZE);
        MemorySegment s = t.storage();
        SplittableRandom random = new SplittableRandom(3);
        for (int i = 0; i < N; i++) {
            long at = t.byteOffset() + 4L * i * FRAMES * SIZE * SIZE;
            if (noise) {
                float[] block = new float[FRAMES * SIZE * SIZE];
                for (int j = 0; j < block.length; j++) {
                    block[j] = (float) random.nextGaussian();
                }
                for (int j = 0; j < FRAMES * SIZE * SIZE; j++) {
                    int f = j / (SIZE * SIZE);
                    int y = j / SIZE % SIZE / blotch * blotch;
                    int x = j % SIZE / blotch * blotch;
                    s.set(
                            java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED,
                            at + 4L * j,
                            block[(f * SIZE + y) * SIZE + x]);
                }
            } else {
                MovingMnist.render(pixels, 4, 99, i, FRAMES, SIZE, 2, s, at);
            }
        }
        SequencedMap<String, Tensor> m = new LinkedHashMap<>();
        m.put("samples", t);
        Path f = dir.resolve(name);
        SafetensorsWriter.write(f, m);
        return f;
    }

    private static int generatedShare(String out) {
        Matcher m = Pattern.compile("generated\\s+(\\d+) of\\s+(\\d+)").matcher(out);
        assertTrue(m.find(), out);
        return Integer.parseInt(m.group(1)) * 100 / Integer.parseInt(m.group(2));
    }

    @Test
    void clipsThatMoveLikeMovingMnistPassAndNoiseDoesNot() throws Exception {
        Path digits = digits();
        CliRun moving = CliRun.of(
                "motion",
                clips("moving.safetensors", false).toString(),
                "--digits",
                digits.toString(),
                "--real",
                "200");
        assertEquals(0, moving.code(), moving.err());
        assertTrue(generatedShare(moving.out()) >= 65, moving.out()); // real clips: about 70%
        assertTrue(moving.out().contains("still         0 of"), moving.out());
        assertTrue(moving.out().contains("noise         0 of"), moving.out());
        // what a shift does not explain: little for moving digits, more for unrelated frames and noise
        java.util.regex.Matcher change = java.util.regex.Pattern.compile(
                        "generated ([0-9.]+), real ([0-9.]+), unrelated frames ([0-9.]+), noise ([0-9.]+), still 0.000")
                .matcher(moving.out());
        assertTrue(change.find(), moving.out());
        double generated = Double.parseDouble(change.group(1));
        assertTrue(
                generated < Double.parseDouble(change.group(3)) && generated < Double.parseDouble(change.group(4)),
                moving.out());
        CliRun noise = CliRun.of(
                "motion", clips("noise.safetensors", true).toString(), "--digits", digits.toString(), "--real", "200");
        assertEquals(0, noise.code(), noise.err());
        assertEquals(0, generatedShare(noise.out()), noise.out());
    }

    @Test
    void blotchyNoiseDoesNotPassForDigits() throws Exception {
        // Noise constant over 4×4 blocks holds together and steps little, as digits do; what gives it
        // away is how much of each frame is bright (half, where digits on black light a few percent).
        CliRun blotches = CliRun.of(
                "motion",
                clips("blotches.safetensors", 4).toString(),
                "--digits",
                digits().toString(),
                "--real",
                "200");
        assertEquals(0, blotches.code(), blotches.err());
        assertEquals(0, generatedShare(blotches.out()), blotches.out());
        Matcher ink = Pattern.compile("generated \\(.*ink median ([0-9.]+)").matcher(blotches.out());
        assertTrue(ink.find() && Double.parseDouble(ink.group(1)) > 0.4, blotches.out());
        // and the report says so: every clip misses the ink range from above
        assertTrue(
                blotches.out().contains("outside the range of: ")
                        && blotches.out().contains("ink " + N + " (" + N + " above, 0 below)"),
                blotches.out());
    }

    @Test
    void aTensorThatIsNoClipIsAUsageError() throws Exception {
        SequencedMap<String, Tensor> m = new LinkedHashMap<>();
        m.put("samples", Tensor.zeros(Arena.ofAuto(), DType.F32, 2, 4, 8, 8));
        Path f = dir.resolve("images.safetensors");
        SafetensorsWriter.write(f, m);
        CliRun r = CliRun.of("motion", f.toString(), "--digits", digits().toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("clips are [N, F, 1, H, H]"), r.err());
    }
}
