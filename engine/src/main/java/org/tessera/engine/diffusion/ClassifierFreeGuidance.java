package org.tessera.engine.diffusion;

import java.lang.foreign.Arena;
import org.tessera.engine.backend.ElementwiseOps;
import org.tessera.engine.tensor.ShapeMismatchException;
import org.tessera.engine.tensor.Shapes;
import org.tessera.engine.tensor.Tensor;

/**
 * Classifier-free guidance (Ho &amp; Salimans 2022) as a model wrapper: the batch is run once
 * with its conditioning and once with the null conditioning, in a single call of twice the
 * batch as DiT does, and the guided output is ε = ε_u + s·(ε_c − ε_u).
 *
 * <p>{@link Channels#EPSILON} guides every ε channel (the first C output channels for C input
 * channels). {@link Channels#DIT_FIRST_THREE} guides only channels 0–2, which is what DiT's
 * published {@code forward_with_cfg} does and is needed to reproduce its samples. Channels that
 * are not guided (the rest of ε in DiT's variant, and learned-variance channels) are taken from
 * the conditional half.
 */
public final class ClassifierFreeGuidance implements DenoisingModel {
    /** Which output channels are guided. */
    public enum Channels {
        /** All C ε channels: the standard form. */
        EPSILON,
        /** Channels 0, 1, 2 only: DiT's published variant. */
        DIT_FIRST_THREE
    }

    private final DenoisingModel model;
    private final double scale;
    private final Tensor unconditional;
    private final Channels channels;
    private final ElementwiseOps ops;

    /**
     * @param unconditional the null conditioning, [1, …] (broadcast over the batch) or [B, …];
     *     e.g. DiT's label {@code num_classes}
     */
    public ClassifierFreeGuidance(DenoisingModel model, double scale, Tensor unconditional, Channels channels,
            ElementwiseOps ops) {
        if (!Double.isFinite(scale)) {
            throw new IllegalArgumentException("classifier-free guidance: scale = " + scale + " must be finite");
        }
        if (unconditional.rank() < 1) {
            throw new ShapeMismatchException("classifier-free guidance: unconditional conditioning must have a batch "
                    + "dimension, got " + Shapes.toString(unconditional.shape()));
        }
        this.model = model;
        this.scale = scale;
        this.unconditional = unconditional;
        this.channels = channels;
        this.ops = ops;
    }

    @Override
    public Tensor predict(Tensor xt, Tensor timesteps, Tensor conditioning) {
        if (conditioning == null) {
            throw new IllegalArgumentException("classifier-free guidance: conditioning is null");
        }
        int batch = xt.size(0);
        int[] condShape = conditioning.shape();
        condShape[0] = batch;
        if (conditioning.size(0) != batch) {
            throw new ShapeMismatchException("classifier-free guidance: conditioning " + Shapes.toString(conditioning.shape())
                    + " for a batch of " + batch);
        }
        Tensor out = model.predict(twice(xt, xt), twice(timesteps, timesteps),
                twice(conditioning, unconditional.expand(condShape)));
        int outChannels = out.size(1);
        int guided = channels == Channels.EPSILON ? xt.size(1) : 3;
        if (out.rank() != xt.rank() || out.size(0) != 2 * batch || outChannels < guided) {
            throw new ShapeMismatchException("classifier-free guidance: model output " + Shapes.toString(out.shape())
                    + " does not fit a doubled batch of " + Shapes.toString(xt.shape()) + " with " + guided
                    + " guided channels");
        }
        Tensor cond = out.slice(0, 0, batch);
        Tensor uncond = out.slice(0, batch, 2 * batch);
        Tensor result = Buffers.zeros(cond.shape());
        result.copyFrom(cond);
        for (int b = 0; b < batch; b++) {
            // ε_u + s·(ε_c − ε_u) = s·ε_c + (1 − s)·ε_u
            ops.axpby((float) scale, cond.select(0, b).slice(0, 0, guided), (float) (1 - scale),
                    uncond.select(0, b).slice(0, 0, guided), result.select(0, b).slice(0, 0, guided));
        }
        return result;
    }

    /** [a; b] along dimension 0, in a's dtype. */
    private static Tensor twice(Tensor a, Tensor b) {
        int[] shape = a.shape();
        int n = shape[0];
        shape[0] = 2 * n;
        Tensor out = Tensor.zeros(Arena.ofAuto(), a.dtype(), shape);
        out.slice(0, 0, n).copyFrom(a);
        out.slice(0, n, 2 * n).copyFrom(b);
        return out;
    }
}
