package org.tessera.engine.diffusion;

import org.tessera.engine.tensor.ShapeMismatchException;
import org.tessera.engine.tensor.Tensor;

/**
 * Video LDM's context frames (Blattmann et al. 2023; the seed notes' 为了生成超长视频…预测未来帧): a
 * model that generates a clip of F frames is also given the first S of them, clean, so that it
 * learns to continue a video, and a long one grows a segment at a time from the last S frames of
 * the one before. Trained with S drawn from {0, 1, 2}, the same model is also unconditional
 * (S = 0), which classifier-free guidance over the context needs.
 *
 * <p>The model sees the context as a clip of its own, in Latte's layout [B, F, C + 1, H, W]: frame
 * f &lt; S holds the given frame in channels 0..C−1 and 1 in channel C (the mask); the other frames
 * are all zero. This class writes that tensor; what the model does with it is the script's.
 */
public final class ContextFrames {
    private ContextFrames() {}

    /**
     * Writes the context of each clip n: its frames {@code from[n] .. from[n] + count[n] − 1} of
     * {@code clips} [N, F', C, H, W] become frames 0 .. count[n] − 1 of {@code context} [N, F, C + 1,
     * H, W], with the mask channel 1 there; everything else is zeroed.
     *
     * @param clips the frames the context is taken from (the clean clips in training, earlier
     *     segments in sampling); null only where every count is 0
     * @param from each clip's first context frame in {@code clips}
     * @param count S for each clip, 0..F
     */
    public static void fill(Tensor clips, int[] from, int[] count, Tensor context) {
        int n = context.size(0);
        if (context.rank() != 5
                || context.dtype() != org.tessera.engine.tensor.DType.F32
                || from.length != n
                || count.length != n
                || !context.isContiguous()) {
            throw new ShapeMismatchException("context frames: a contiguous f32 [N, F, C + 1, H, W] for " + n
                    + " clips, got " + java.util.Arrays.toString(context.shape()));
        }
        int frames = context.size(1);
        int channels = context.size(2) - 1;
        int plane = context.size(3) * context.size(4);
        if (clips != null
                && (clips.rank() != 5
                        || clips.size(0) != n
                        || clips.size(2) != channels
                        || clips.size(3) * clips.size(4) != plane
                        || clips.size(3) != context.size(3))) {
            throw new ShapeMismatchException("context frames: clips " + java.util.Arrays.toString(clips.shape())
                    + " do not fit the context " + java.util.Arrays.toString(context.shape())
                    + " (the same clips, frame size and channels, less the mask)");
        }
        Tensor source = clips == null || clips.isContiguous() ? clips : clips.contiguous();
        long frameIn = (long) channels * plane;
        long frameOut = (long) (channels + 1) * plane;
        for (int b = 0; b < n; b++) {
            if (count[b] < 0 || count[b] > frames || count[b] > 0 && source == null) {
                throw new IllegalArgumentException("context frames: clip " + b + " asks for " + count[b] + " of "
                        + frames + " frames" + (source == null ? " with no clips to take them from" : ""));
            }
            if (count[b] > 0 && (from[b] < 0 || from[b] + count[b] > source.size(1))) {
                throw new IllegalArgumentException("context frames: clip " + b + " takes frames " + from[b] + ".."
                        + (from[b] + count[b] - 1) + " of a clip of " + source.size(1));
            }
            for (int f = 0; f < frames; f++) {
                long out = ((long) b * frames + f) * frameOut;
                boolean given = f < count[b];
                long in = given ? ((long) b * source.size(1) + from[b] + f) * frameIn : 0;
                for (long i = 0; i < frameIn; i++) {
                    context.storage()
                            .setAtIndex(
                                    java.lang.foreign.ValueLayout.JAVA_FLOAT,
                                    context.offset() + out + i,
                                    given ? source.floatAt(in + i) : 0f);
                }
                for (long i = frameIn; i < frameOut; i++) { // the mask channel
                    context.storage()
                            .setAtIndex(
                                    java.lang.foreign.ValueLayout.JAVA_FLOAT,
                                    context.offset() + out + i,
                                    given ? 1f : 0f);
                }
            }
        }
    }
}
