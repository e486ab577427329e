import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.List;
import org.tessera.engine.io.IdxReader;
import org.tessera.engine.io.MovingMnist;
import org.tessera.engine.packing.PackPlan;
import org.tessera.engine.packing.Patches;
import org.tessera.engine.packing.TokenDropping;
import org.tessera.engine.tensor.Tensor;

/**
 * How many patches similarity dropping keeps of Moving MNIST clips (issue 16): the clips that
 * samples/moving-mnist-packed-train.tess trains on (two digits, made at 64×64 and shrunk to SIZE,
 * 16 frames, and every second frame for 8), patch PATCH, at thresholds 0.95 and 0.99, through the
 * packer the trainer uses.
 *
 *   bench/moving-mnist-kept.sh [CLIPS] [MNIST_IMAGES] [SIZE PATCH]     (default 200, ..., 32 4)
 */
public final class MovingMnistKept {
    public static void main(String[] args) throws Exception {
        int clips = args.length > 0 ? Integer.parseInt(args[0]) : 200;
        Path file = Path.of(args.length > 1 ? args[1] : "/usr/share/datasets/mnist/train-images-idx3-ubyte");
        int size = args.length > 3 ? Integer.parseInt(args[2]) : 32;
        int patch = args.length > 3 ? Integer.parseInt(args[3]) : 4;
        int area = size * size;
        int grid = area / (patch * patch);
        IdxReader.Idx digits = IdxReader.read(file);
        int n = digits.shape()[0];
        float[] clip = new float[16 * area];
        System.out.printf("clips made at 64×64, shrunk to %d×%d, patch %d%n", size, size, patch);
        for (double threshold : new double[] {0.95, 0.99}) {
            for (int frames : new int[] {16, 8}) {
                long kept = 0;
                for (int i = 0; i < clips; i++) {
                    MovingMnist.render(digits.data(), n, 0, i, 16, 64, size, 2, MemorySegment.ofArray(clip), 0);
                    float[] taken = new float[frames * area];
                    for (int f = 0; f < frames; f++) { // every (16/frames)-th frame, as the trainer takes them
                        System.arraycopy(clip, f * (16 / frames) * area, taken, f * area, area);
                    }
                    PackPlan plan = Patches.plan(
                            List.of(Tensor.of(taken, 1, frames, size, size)),
                            1,
                            patch,
                            frames * grid,
                            new TokenDropping.Similar(threshold));
                    kept += plan.placements().getFirst().tokens();
                }
                System.out.printf(
                        "similar(%.2f), %2d frames: %.1f of %d patches kept per clip (%.1f%%), over %d clips%n",
                        threshold, frames, (double) kept / clips, frames * grid,
                        100.0 * kept / ((long) frames * grid * clips),
                        clips);
            }
        }
    }
}
