package org.tessera.runtime.internal;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.tessera.engine.io.ImageInput;
import org.tessera.engine.tensor.Tensor;

/** The stages that move tensors between models: resampling and concatenation, on the host. */
final class TensorStages {
    private TensorStages() {}

    /**
     * Nearest-neighbour upsampling of the last two (spatial) axes by {@code f}: [N, C, H, W] or a
     * video's [N, F, C, H, W]; each value becomes an f×f block, as PyTorch's
     * {@code interpolate(mode="nearest")} with an integer scale. The view [..., H, 1, W, 1] is
     * expanded to [..., H, f, W, f], copied, then read as [..., H·f, W·f]. In time, each frame of
     * a video is repeated.
     */
    static Tensor upsample(Tensor x, int f, String axes, String stage) {
        return switch (axes) {
            case "time" -> repeatFrames(x, f, stage);
            case "spacetime" -> upsample(repeatFrames(x, f, stage), f, stage);
            default -> upsample(x, f, stage);
        };
    }

    /**
     * Each frame of a video [N, F, C, H, W] (the layout Tessera's video models sample and its video
     * outputs take) repeated {@code f} times: [N, F·f, C, H, W], nearest-neighbour in time — the
     * view [N, F, 1, C·H·W] expanded to [N, F, f, C·H·W], copied.
     */
    static Tensor repeatFrames(Tensor x, int f, String stage) {
        if (x.rank() != 5) {
            throw new IllegalArgumentException("stage '" + stage
                    + "': upsampling in time needs a video [N, F, C, H, W], got " + Arrays.toString(x.shape()));
        }
        int[] s = x.shape();
        int frame = s[2] * s[3] * s[4];
        return x.contiguous()
                .reshape(s[0], s[1], 1, frame)
                .expand(s[0], s[1], f, frame)
                .contiguous()
                .reshape(s[0], s[1] * f, s[2], s[3], s[4]);
    }

    static Tensor upsample(Tensor x, int f, String stage) {
        int rank = x.rank();
        if (rank < 4) {
            throw new IllegalArgumentException("stage '" + stage
                    + "': upsample needs [N, C, H, W] or a video [N, F, C, H, W], got " + Arrays.toString(x.shape()));
        }
        int[] shape = x.shape();
        int h = shape[rank - 2];
        int w = shape[rank - 1];
        int[] split = Arrays.copyOf(shape, rank + 2);
        split[rank - 2] = h;
        split[rank - 1] = 1;
        split[rank] = w;
        split[rank + 1] = 1;
        int[] expanded = split.clone();
        expanded[rank - 1] = f;
        expanded[rank + 1] = f;
        int[] out = shape.clone();
        out[rank - 2] = h * f;
        out[rank - 1] = w * f;
        return x.contiguous().reshape(split).expand(expanded).contiguous().reshape(out);
    }

    /** {@code xs} joined along {@code dim}; every other dimension must agree. */
    static Tensor concat(List<Tensor> xs, int dim, String stage) {
        int[] shape = xs.get(0).shape();
        if (dim >= shape.length) {
            throw new IllegalArgumentException(
                    "stage '" + stage + "': concat dim " + dim + " of a rank-" + shape.length + " tensor");
        }
        int total = 0;
        for (Tensor t : xs) {
            int[] s = t.shape();
            boolean fits = s.length == shape.length;
            for (int i = 0; fits && i < s.length; i++) {
                fits = i == dim || s[i] == shape[i];
            }
            if (!fits) {
                throw new IllegalArgumentException("stage '" + stage + "': cannot concatenate " + Arrays.toString(shape)
                        + " and " + Arrays.toString(s) + " along dim " + dim);
            }
            total += s[dim];
        }
        int[] out = shape.clone();
        out[dim] = total;
        Tensor result = Tensor.zeros(xs.get(0).dtype(), out);
        int at = 0;
        for (Tensor t : xs) {
            result.slice(dim, at, at + t.size(dim)).copyFrom(t);
            at += t.size(dim);
        }
        return result;
    }

    /** An image stage: the file as [1, 3, H, W] in [−1, 1] (see {@link ImageInput#read}). */
    static Tensor image(Path file, int size, String stage) throws IOException {
        try {
            return ImageInput.read(file, size);
        } catch (IOException e) {
            throw new IOException("stage '" + stage + "': " + e.getMessage(), e);
        }
    }
}
