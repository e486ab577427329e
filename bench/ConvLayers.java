import org.tessera.engine.backend.Backend;
import org.tessera.engine.backend.Backends;
import org.tessera.engine.parallel.WorkerPool;
import org.tessera.engine.random.RandomStream;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Tensor;

/**
 * The SD VAE decoder's 3×3 convolutions one layer at a time (C → C channels at H×W, stride 1,
 * padding 1), by Winograd's F(2×2, 3×3) and by im2col, interleaved round by round in one JVM so
 * that both see the same machine; GF/s counted as the direct convolution's 2·O·C·9·H·W.
 *
 *   bench/conv-layers.sh [THREADS] [ROUNDS]
 */
public final class ConvLayers {
    public static void main(String[] args) throws Exception {
        int threads = args.length > 0 ? Integer.parseInt(args[0]) : 2;
        int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 3;
        int[][] layers = {{128, 256}, {256, 128}, {512, 64}, {512, 32}};
        try (WorkerPool pool = new WorkerPool(threads)) {
            Backend cpu = Backends.cpu(pool, System.err::println);
            System.out.printf(
                    "%-16s %12s %12s %8s %12s%n", "C×H×W", "winograd ms", "im2col ms", "speed-up", "max |diff|");
            for (int[] layer : layers) {
                int c = layer[0];
                int hw = layer[1];
                Tensor x = Tensor.zeros(DType.F32, 1, c, hw, hw);
                Tensor w = Tensor.zeros(DType.F32, c, c, 3, 3);
                Tensor b = Tensor.zeros(DType.F32, c);
                new RandomStream(1, 0).fillNormal(x, pool);
                new RandomStream(2, 0).fillNormal(w, pool);
                Tensor out = Tensor.zeros(DType.F32, 1, c, hw, hw);
                Tensor other = Tensor.zeros(DType.F32, 1, c, hw, hw);
                double[] best = {Double.MAX_VALUE, Double.MAX_VALUE};
                for (int r = -2; r < rounds; r++) { // two rounds to warm up (the JIT compiles the first layer's code)
                    for (int route = 0; route < 2; route++) {
                        System.setProperty("tessera.conv.winograd", route == 0 ? "true" : "false");
                        long t0 = System.nanoTime();
                        cpu.conv().conv2d(x, w, b, 1, 1, route == 0 ? out : other);
                        double ms = (System.nanoTime() - t0) / 1e6;
                        if (r >= 0) {
                            best[route] = Math.min(best[route], ms);
                        }
                    }
                }
                double flops = 2.0 * c * c * 9 * hw * hw;
                float[] a = out.toFloatArray();
                float[] e = other.toFloatArray();
                double diff = 0;
                double scale = 0;
                for (int i = 0; i < a.length; i++) {
                    diff = Math.max(diff, Math.abs(a[i] - e[i]));
                    scale = Math.max(scale, Math.abs(e[i]));
                }
                System.out.printf(
                        "%-16s %7.1f (%3.0f) %7.1f (%3.0f) %8.2f %12.2e%n",
                        c + "×" + hw + "×" + hw, best[0], flops / best[0] / 1e6, best[1], flops / best[1] / 1e6,
                        best[1] / best[0], diff / scale);
            }
            System.out.println("ms: best of the rounds; in brackets GF/s as the direct convolution's FLOPs;"
                    + " max |diff|: between the two outputs, over the largest |value| (inputs and weights N(0, 1))");
        }
    }
}
