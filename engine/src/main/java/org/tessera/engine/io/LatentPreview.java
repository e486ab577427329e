package org.tessera.engine.io;

import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Tensor;

/**
 * A quick RGB view of Stable Diffusion VAE latents (the 4-channel, 8×-downsampled space DiT
 * samples in), without the decoder: each latent pixel's colour is a fixed linear map of its four
 * channels,
 *
 * <pre>  rgb = zᵀ · F,   F ∈ ℝ^{4×3},</pre>
 *
 * with the factors the community fitted by least squares between latents and their decoded images
 * (those of ComfyUI's SD1.5 latent format, applied like there to latents as the model samples
 * them, i.e. already multiplied by the scale factor 0.18215). The result is an image 8× smaller
 * than the decode, with roughly the right colours and layout: a preview, not a decode. Values land
 * near [−1, 1], as {@link ImageOutput} expects.
 */
public final class LatentPreview {
    /** F: row c gives channel c's contribution to (R, G, B). */
    private static final float[][] SD_FACTORS = {
        {0.3512f, 0.2297f, 0.3227f},
        {0.3250f, 0.4974f, 0.2350f},
        {-0.2829f, 0.1762f, 0.2721f},
        {-0.2120f, -0.2616f, -0.7177f}
    };

    private LatentPreview() {}

    /**
     * [N, 4, H, W] latents → [N, 3, H, W] approximate RGB in [−1, 1].
     *
     * @throws IllegalArgumentException when the latents do not have four channels
     */
    public static Tensor rgb(Tensor latents) {
        if (latents.rank() != 4 || latents.size(1) != SD_FACTORS.length) {
            throw new IllegalArgumentException("a latent preview needs [N, 4, H, W] Stable Diffusion VAE latents, got "
                    + java.util.Arrays.toString(latents.shape()));
        }
        int n = latents.size(0);
        int h = latents.size(2);
        int w = latents.size(3);
        Tensor out = Tensor.zeros(DType.F32, n, 3, h, w);
        for (int b = 0; b < n; b++) {
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    for (int rgb = 0; rgb < 3; rgb++) {
                        float v = 0;
                        for (int c = 0; c < SD_FACTORS.length; c++) {
                            v += latents.getFloat(b, c, y, x) * SD_FACTORS[c][rgb];
                        }
                        out.setFloat(v, b, rgb, y, x);
                    }
                }
            }
        }
        return out;
    }
}
