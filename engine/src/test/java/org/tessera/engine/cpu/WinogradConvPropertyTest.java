package org.tessera.engine.cpu;

import static org.tessera.engine.cpu.KernelAssert.assertClose;
import static org.tessera.engine.cpu.KernelAssert.randn;

import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.tessera.engine.parallel.WorkerPool;
import org.tessera.engine.reference.ScalarConv;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Tensor;

/**
 * Winograd's F(2×2, 3×3) against the direct-loop reference: odd and even sizes (a last tile
 * half outside the image), channel counts off the vector width, non-contiguous inputs and
 * weights, with and without bias, and images cut into several blocks of tile rows.
 */
class WinogradConvPropertyTest {
    private static final WorkerPool ONE = new WorkerPool(1);
    private static final WorkerPool THREE = new WorkerPool(3);

    @AfterAll
    static void close() {
        ONE.close();
        THREE.close();
    }

    static Stream<Arguments> cases() {
        // x [N, C, H, W], output channels, most floats per block (0: the default)
        Object[][] cases = {
            {new int[] {1, 1, 1, 1}, 1, 0L},
            {new int[] {1, 2, 1, 2}, 3, 0L},
            {new int[] {2, 3, 5, 7}, 5, 0L},
            {new int[] {1, 17, 9, 13}, 20, 0L},
            {new int[] {2, 16, 16, 16}, 16, 0L},
            {new int[] {1, 5, 33, 31}, 7, 0L},
            {new int[] {1, 5, 33, 31}, 7, 16L * 7 * 16 * 3}, // three tile rows a block: 6 blocks, the last short
            {new int[] {2, 20, 11, 40}, 33, 1L}, // one tile row a block
            {new int[] {1, 3, 6, 77}, 2, 0L}, // rows of several whole vectors, and a tail, at every width
        };
        return Stream.of(cases).flatMap(c -> IntStream.of(1, 3).mapToObj(t -> Arguments.of(c[0], c[1], c[2], t)));
    }

    @ParameterizedTest(name = "x={0} out={1} block={2} threads={3}")
    @MethodSource("cases")
    void matchesTheDirectConvolution(int[] xs, int outChannels, long blockFloats, int threads) {
        WorkerPool pool = threads == 1 ? ONE : THREE;
        WinogradConv winograd = blockFloats == 0
                ? new WinogradConv(pool, new VectorGemm(pool))
                : new WinogradConv(pool, new VectorGemm(pool), blockFloats);
        int n = xs[0];
        int c = xs[1];
        int h = xs[2];
        int w = xs[3];
        Tensor weight = randn(2, outChannels, c, 3, 3);
        Tensor transposedWeight = randn(4, outChannels, c, 3, 3).transpose(2, 3); // strided kernel rows
        Tensor channelsLast = randn(5, n, h, w, c).permute(0, 3, 1, 2);
        for (Tensor x : new Tensor[] {randn(1, xs), channelsLast}) {
            for (Tensor g : new Tensor[] {weight, transposedWeight}) {
                for (Tensor bias : new Tensor[] {null, randn(3, outChannels)}) {
                    Tensor expected = Tensor.zeros(DType.F32, n, outChannels, h, w);
                    new ScalarConv().conv2d(x, g, bias, 1, 1, expected);
                    Tensor out = Tensor.zeros(DType.F32, n, outChannels, h, w);
                    winograd.conv2d(x, g, bias, out);
                    // The transforms sum the 16 terms of a tile in another order than the direct
                    // loop, with values up to 4× the inputs': a few ulps more per term than im2col.
                    assertClose(
                            expected,
                            out,
                            1e-5,
                            1e-5 * Math.sqrt(9 * c),
                            "x " + x + ", weight " + g + ", bias " + (bias != null));
                }
            }
        }
    }
}
