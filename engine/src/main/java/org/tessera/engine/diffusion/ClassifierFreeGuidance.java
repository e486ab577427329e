package org.tessera.engine.diffusion;

import java.lang.foreign.Arena;
import org.tessera.engine.backend.ElementwiseOps;
import org.tessera.engine.tensor.DType;
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
 *
 * <p>The conditioning has a row per row of x, or per sample where rows hold several (a packed
 * batch): it is doubled on its own, [c; ∅], and the model pairs it with the rows.
 *
 * <p>Buffers: the doubled batch [x; x], [t; t], [c; ∅] and the guided output are allocated on the
 * first call and reused while the shapes stay the same (the null half of the conditioning is
 * written once, when its buffer is made), so a sampling loop allocates no tensors here. As the
 * {@link DenoisingModel} contract allows, the returned tensor is this wrapper's buffer, valid
 * until its next call. An instance therefore serves one sampling run at a time.
 */
public final class ClassifierFreeGuidance implements DenoisingModel {
    /** Which output channels are guided. */
    public enum Channels {
        /** All C ε channels: the standard form. */
        EPSILON,
        /** Channels 0, 1, 2 only: DiT's published variant. */
        DIT_FIRST_THREE,
        /** Channels 0–3 only: Latte's {@code forward_with_cfg}, whatever the model's channel count. */
        LATTE_FIRST_FOUR;

        /** How many channels are guided for a latent of {@code channels} channels. */
        int guided(int channels) {
            return switch (this) {
                case EPSILON -> channels;
                case DIT_FIRST_THREE -> 3;
                case LATTE_FIRST_FOUR -> 4;
            };
        }
    }

    private final DenoisingModel model;
    private final double scale;
    private final Tensor unconditional;
    private final Channels channels;
    /** The axis of x and of the output that holds the channels (1 for images, 2 for Latte's videos). */
    private final int axis;

    private final ElementwiseOps ops;

    // The doubled inputs and views of their halves; (re)made when a shape or dtype changes.
    private Tensor doubledX;
    private Tensor doubledT;
    private Tensor doubledC;
    private Tensor xCond;
    private Tensor xUncond;
    private Tensor tCond;
    private Tensor tUncond;
    private Tensor cCond;
    // The guided result, and views of the model output they were made for (remade when the model
    // returns another tensor object, and for every call of a model that returns fresh tensors).
    private Tensor guided;
    private Tensor viewsOf;
    private Tensor outCond;
    private Tensor outUncond;
    private Tensor[] condRows;
    private Tensor[] uncondRows;
    private Tensor[] guidedRows;

    /**
     * @param unconditional the null conditioning, [1, …] (broadcast over the batch) or [B, …];
     *     e.g. DiT's label {@code num_classes}
     */
    public ClassifierFreeGuidance(
            DenoisingModel model, double scale, Tensor unconditional, Channels channels, ElementwiseOps ops) {
        this(model, scale, unconditional, channels, 1, ops);
    }

    /**
     * Guidance of a latent whose channels lie on {@code channelAxis} (≥ 1): 2 for Latte's
     * (batch, frames, channels, height, width).
     */
    public ClassifierFreeGuidance(
            DenoisingModel model,
            double scale,
            Tensor unconditional,
            Channels channels,
            int channelAxis,
            ElementwiseOps ops) {
        if (channelAxis < 1) {
            throw new IllegalArgumentException(
                    "classifier-free guidance: the channel axis must follow the batch, got " + channelAxis);
        }
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
        this.axis = channelAxis;
        this.ops = ops;
    }

    /**
     * The batch the wrapped model sees for {@code samples} samples: the conditional and the
     * unconditional halves in one call. The one place this rule lives; a pipeline sizes its
     * model's plan with it.
     */
    public static int modelBatch(int samples) {
        return 2 * samples;
    }

    @Override
    public Tensor predict(Tensor xt, Tensor timesteps, Tensor conditioning) {
        if (conditioning == null) {
            throw new IllegalArgumentException("classifier-free guidance: conditioning is null");
        }
        int batch = xt.size(0);
        // One label per row of x, or per sample of a packed batch, whose rows hold several.
        if (conditioning.rank() < 1 || conditioning.size(0) < 1) {
            throw new ShapeMismatchException("classifier-free guidance: conditioning "
                    + Shapes.toString(conditioning.shape()) + " for a batch of " + batch);
        }
        prepareInputs(xt, timesteps, conditioning);
        xCond.copyFrom(xt);
        xUncond.copyFrom(xt);
        tCond.copyFrom(timesteps);
        tUncond.copyFrom(timesteps);
        cCond.copyFrom(conditioning); // the null half was written when the buffer was made
        Tensor out = model.predict(doubledX, doubledT, doubledC);
        if (xt.rank() <= axis) {
            throw new ShapeMismatchException(
                    "classifier-free guidance: x " + Shapes.toString(xt.shape()) + " has no channel axis " + axis);
        }
        int guidedChannels = channels.guided(xt.size(axis));
        if (out.rank() != xt.rank() || out.size(0) != 2 * batch || out.size(axis) < guidedChannels) {
            throw new ShapeMismatchException("classifier-free guidance: model output " + Shapes.toString(out.shape())
                    + " does not fit a doubled batch of " + Shapes.toString(xt.shape()) + " with " + guidedChannels
                    + " guided channels");
        }
        prepareOutput(out, batch, guidedChannels);
        // ε_u + s·(ε_c − ε_u) = s·ε_c + (1 − s)·ε_u
        float s = (float) scale;
        float u = (float) (1 - scale);
        if (guidedChannels == out.size(axis)) {
            ops.axpby(s, outCond, u, outUncond, guided);
        } else {
            guided.copyFrom(outCond);
            for (int r = 0; r < guidedRows.length; r++) {
                ops.axpby(s, condRows[r], u, uncondRows[r], guidedRows[r]);
            }
        }
        return guided;
    }

    /** Makes the doubled input buffers unless those of the last call still fit. */
    private void prepareInputs(Tensor xt, Tensor timesteps, Tensor conditioning) {
        int batch = xt.size(0);
        if (doubledX == null || !doubles(doubledX, xt)) {
            doubledX = doubled(xt);
            xCond = doubledX.slice(0, 0, batch);
            xUncond = doubledX.slice(0, batch, 2 * batch);
        }
        if (doubledT == null || !doubles(doubledT, timesteps)) {
            doubledT = doubled(timesteps);
            tCond = doubledT.slice(0, 0, batch);
            tUncond = doubledT.slice(0, batch, 2 * batch);
        }
        if (doubledC == null || !doubles(doubledC, conditioning)) {
            doubledC = doubled(conditioning);
            int n = conditioning.size(0); // the rows, or a packed batch's samples
            cCond = doubledC.slice(0, 0, n);
            doubledC.slice(0, n, 2 * n).copyFrom(unconditional.expand(conditioning.shape()));
        }
    }

    /** Makes the guided buffer and the views of {@code out}'s halves unless those of the last call still fit. */
    private void prepareOutput(Tensor out, int batch, int guidedChannels) {
        if (out == viewsOf && guidedRows.length > 0 && guidedRows[0].size(0) == guidedChannels) {
            return;
        }
        outCond = out.slice(0, 0, batch);
        outUncond = out.slice(0, batch, 2 * batch);
        if (guided == null || !guided.sameShape(outCond)) {
            guided = Tensor.zeros(Arena.ofAuto(), DType.F32, outCond.shape());
        }
        // One row per index before the channel axis (a sample, or a frame of one): its first
        // guidedChannels channels are contiguous, so axpby runs on plain views.
        int rows = 1;
        int[] flat = new int[out.rank() - axis + 1];
        for (int d = 0; d < axis; d++) {
            rows *= outCond.size(d);
        }
        flat[0] = rows;
        for (int d = axis; d < out.rank(); d++) {
            flat[d - axis + 1] = out.size(d);
        }
        Tensor cond = outCond.reshape(flat);
        Tensor uncond = outUncond.reshape(flat);
        Tensor into = guided.reshape(flat);
        condRows = new Tensor[rows];
        uncondRows = new Tensor[rows];
        guidedRows = new Tensor[rows];
        for (int r = 0; r < rows; r++) {
            condRows[r] = cond.select(0, r).slice(0, 0, guidedChannels);
            uncondRows[r] = uncond.select(0, r).slice(0, 0, guidedChannels);
            guidedRows[r] = into.select(0, r).slice(0, 0, guidedChannels);
        }
        viewsOf = out;
    }

    /** True when {@code doubled} is [2n, …] of {@code half}'s [n, …] and dtype. */
    private static boolean doubles(Tensor doubled, Tensor half) {
        return doubled.dtype() == half.dtype() && Buffers.sameTrailingShape(doubled, 2 * half.size(0), half);
    }

    /** A zeroed [2n, …] buffer for {@code half} [n, …], in its dtype, freed by the garbage collector. */
    private static Tensor doubled(Tensor half) {
        int[] shape = half.shape();
        shape[0] = modelBatch(shape[0]);
        return Tensor.zeros(Arena.ofAuto(), half.dtype(), shape);
    }
}
