package org.tessera.engine.backend;

import org.tessera.engine.tensor.Tensor;

/** Convolutions, lowered to GEMM, and resampling. All F32. */
public interface ConvOps {

    /**
     * Patch embedding (a conv with stride = kernel = p) straight into token layout:
     * x [N, C, H, W], weight [D, C, p, p], bias [D] or null → out [N, (H/p)·(W/p), D], tokens in
     * row-major patch order (what DiT's {@code proj(x).flatten(2).transpose(1, 2)} gives).
     */
    void patchEmbed2d(Tensor x, Tensor weight, Tensor bias, Tensor out);

    /**
     * Spatiotemporal patch embedding (Sora / Latte "tubelets"): x [N, C, T, H, W], weight
     * [D, C, pt, ph, pw], bias [D] or null → out [N, (T/pt)·(H/ph)·(W/pw), D], tokens ordered
     * by time, then row, then column.
     */
    void patchEmbed3d(Tensor x, Tensor weight, Tensor bias, Tensor out);

    /**
     * General 2-D convolution: x [N, C, H, W], weight [O, C, kh, kw], bias [O] or null, equal
     * stride and zero padding on both axes → out [N, O, Ho, Wo] with
     * Ho = (H + 2·padding − kh)/stride + 1.
     */
    void conv2d(Tensor x, Tensor weight, Tensor bias, int stride, int padding, Tensor out);

    /** Nearest-neighbour upsampling by an integer factor: x [N, C, H, W] → out [N, C, H·f, W·f]. */
    void upsampleNearest2d(Tensor x, int factor, Tensor out);
}
