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
 * samples/moving-mnist-packed-train.tess trains on (two digits, 64×64, 16 frames, and every second
 * frame for 8), patch 8, at thresholds 0.95 and 0.99, through the packer the trainer uses.
 *
 *   bench/moving-mnist-kept.sh [CLIPS]
 */
public final class MovingMnistKept {
    public static void main(String[] args) throws Exception {
        int clips = args.length > 0 ? Integer.parseInt(args[0]) : 200;
        Path file = Path.of(args.length > 1 ? args[1] : "/usr/share/datasets/mnist/train-images-idx3-ubyte");
        IdxReader.Idx digits = IdxReader.read(file);
        int n = digits.shape()[0];
        float[] clip = new float[16 * 64 * 64];
        for (double threshold : new double[] {0.95, 0.99}) {
            for (int frames : new int[] {16, 8}) {
                long kept = 0;
                for (int i = 0; i < clips; i++) {
                    MovingMnist.render(digits.data(), n, 0, i, 16, 64, 2, MemorySegment.ofArray(clip), 0);
                    float[] taken = new float[frames * 64 * 64];
                    for (int f = 0; f < frames; f++) { // every (16/frames)-th frame, as the trainer takes them
                        System.arraycopy(clip, f * (16 / frames) * 4096, taken, f * 4096, 4096);
                    }
                    PackPlan plan = Patches.plan(
                            List.of(Tensor.of(taken, 1, frames, 64, 64)),
                            1,
                            8,
                            frames * 64,
                            new TokenDropping.Similar(threshold));
                    kept += plan.placements().getFirst().tokens();
                }
                System.out.printf(
                        "similar(%.2f), %2d frames: %.1f of %d patches kept per clip (%.1f%%), over %d clips%n",
                        threshold, frames, (double) kept / clips, frames * 64, 100.0 * kept / (frames * 64L * clips),
                        clips);
            }
        }
    }
}
