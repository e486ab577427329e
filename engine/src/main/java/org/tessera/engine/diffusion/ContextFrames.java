package org.tessera.engine.diffusion;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.ShapeMismatchException;
import org.tessera.engine.tensor.Tensor;

/**
 * Video LDM's context frames (Blattmann et al. 2023; the seed notes' 为了生成超长视频…预测未来帧 and
 * 关键帧…插值): a model that generates a clip of F frames is also given some of them, clean. Given
 * its first S frames it learns to continue a video, and a long one grows a segment at a time from
 * the last S frames of the one before ({@link #leading}); given its first and last frames it
 * learns to fill in between two keyframes ({@link #ends}). Trained with S drawn from {0, 1, 2}, the
 * same model is also unconditional (S = 0), which classifier-free guidance over the context needs.
 *
 * <p>The model sees the context as a clip of its own, in Latte's layout [B, F, C + 1, H, W]: a
 * given frame f holds its picture in channels 0..C−1 and 1 in channel C (the mask); the other
 * frames are all zero. This class writes that tensor; what the model does with it is the script's.
 */
public final class ContextFrames {
    /** In a frame map, a frame the model generates. */
    public static final int GENERATED = -1;

    private ContextFrames() {}

    /** A prediction's frame map: context frames 0..count−1 are the clip's frames from, from + 1, …; the rest generated. */
    public static int[] leading(int frames, int from, int count) {
        int[] map = new int[frames];
        Arrays.fill(map, GENERATED);
        for (int f = 0; f < count; f++) {
            map[f] = from + f;
        }
        return map;
    }

    /** An interpolation's frame map: the clip's frame {@code first} at the front, {@code last} at the end. */
    public static int[] ends(int frames, int first, int last) {
        int[] map = new int[frames];
        Arrays.fill(map, GENERATED);
        map[0] = first;
        map[frames - 1] = last;
        return map;
    }

    /**
     * Writes the context of each clip b: context frame f is frame {@code frames[b][f]} of
     * {@code clips} [N, F', C, H, W] with the mask channel 1, or all zero where that is
     * {@link #GENERATED}.
     *
     * @param clips the frames the context is taken from (the clean clips in training, earlier
     *     segments or keyframes in sampling); null only where no frame is given
     * @param frames for each clip, a map of F entries
     * @param context [N, F, C + 1, H, W], contiguous f32
     */
    public static void fill(Tensor clips, int[][] frames, Tensor context) {
        int n = context.size(0);
        if (context.rank() != 5 || context.dtype() != DType.F32 || frames.length != n || !context.isContiguous()) {
            throw new ShapeMismatchException("context frames: a contiguous f32 [N, F, C + 1, H, W] for " + frames.length
                    + " clips, got " + Arrays.toString(context.shape()));
        }
        int length = context.size(1);
        int channels = context.size(2) - 1;
        int plane = context.size(3) * context.size(4);
        if (clips != null
                && (clips.rank() != 5
                        || clips.dtype() != DType.F32
                        || clips.size(0) != n
                        || clips.size(2) != channels
                        || clips.size(3) != context.size(3)
                        || clips.size(4) != context.size(4))) {
            throw new ShapeMismatchException("context frames: f32 clips " + Arrays.toString(clips.shape())
                    + " do not fit the context " + Arrays.toString(context.shape())
                    + " (the same clips, frame size and channels, less the mask)");
        }
        Tensor source = clips == null || clips.isContiguous() ? clips : clips.contiguous();
        long frameIn = (long) channels * plane;
        long frameOut = (long) (channels + 1) * plane;
        for (int b = 0; b < n; b++) {
            if (frames[b].length != length) {
                throw new IllegalArgumentException(
                        "context frames: clip " + b + " maps " + frames[b].length + " frames of " + length);
            }
            for (int f = 0; f < length; f++) {
                int from = frames[b][f];
                boolean given = from != GENERATED;
                if (given && (source == null || from < 0 || from >= source.size(1))) {
                    throw new IllegalArgumentException("context frames: clip " + b + " takes frame " + from
                            + (source == null ? " with no clips to take it from" : " of a clip of " + source.size(1)));
                }
                long out = context.offset() + ((long) b * length + f) * frameOut;
                MemorySegment picture = context.storage().asSlice(4 * out, 4 * frameIn);
                if (given) {
                    long in = source.offset() + ((long) b * source.size(1) + from) * frameIn;
                    MemorySegment.copy(source.storage(), 4 * in, picture, 0, 4 * frameIn);
                } else {
                    picture.fill((byte) 0);
                }
                for (long i = frameIn; i < frameOut; i++) { // the mask channel
                    context.storage().setAtIndex(ValueLayout.JAVA_FLOAT, out + i, given ? 1f : 0f);
                }
            }
        }
    }
}
