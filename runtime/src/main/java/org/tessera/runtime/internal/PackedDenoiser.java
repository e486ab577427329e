package org.tessera.runtime.internal;

import java.util.LinkedHashMap;
import java.util.Map;
import org.tessera.dsl.ModelContract;
import org.tessera.engine.diffusion.DenoisingModel;
import org.tessera.engine.graph.Execution;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.ShapeMismatchException;
import org.tessera.engine.tensor.Tensor;

/**
 * A packed model as the sampler's {@link DenoisingModel}: the sampler keeps rows x [R, L, C, p·p]
 * and one timestep per row; the model takes tokens [R, L, C·p·p], one timestep and label per
 * sample, and the packing inputs, and returns [R, L, p·p·C'] in DiT's (p q c) order. This fills
 * the inputs, takes each sample's timestep from its row, and hands back the output as
 * [R, L, C', p·p], channels on the axis where a learned variance and guidance split them.
 *
 * <p>Under guidance the rows come doubled, [x; x], with 2E labels [y; ∅]: the packing inputs were
 * made for two copies ({@link PackedBatch#inputs}), copy k's samples numbered k·E + e.
 *
 * <p>Buffers: the per-sample timesteps and the reordered output are made once; the views onto the
 * caller's timesteps and the model's output are remade only when those tensors change, so a
 * sampling loop allocates nothing here. The output is this object's buffer, valid until its next
 * call, as {@link DenoisingModel} allows.
 */
final class PackedDenoiser implements DenoisingModel, AutoCloseable {
    private final ModelPlans.Plan plan;
    private final Execution execution;
    private final ModelContract contract;
    private final PackedBatch batch;
    private final int copies;
    private final Map<String, Tensor> in = new LinkedHashMap<>();

    private Tensor timesteps; // [copies·E], the dtype of the sampler's
    private Tensor timestepsOf;
    private Tensor[] fromRow;
    private Tensor[] toSample;
    private Tensor reordered; // [copies·R, L, C', p·p]
    private Tensor outputOf;
    private Tensor outputView;
    private Tensor reorderedView;
    private boolean closed;

    PackedDenoiser(
            ModelPlans.Plan plan,
            ModelContract contract,
            PackedBatch batch,
            int copies,
            Map<String, Tensor> packingInputs) {
        this.plan = plan;
        this.execution = plan.acquire();
        this.contract = contract;
        this.batch = batch;
        this.copies = copies;
        in.putAll(packingInputs);
    }

    @Override
    public Tensor predict(Tensor xt, Tensor rowTimesteps, Tensor labels) {
        if (closed) {
            throw new IllegalStateException("this denoiser is closed");
        }
        int rows = copies * batch.rows();
        int[] want = batch.latentShape();
        want[0] = rows;
        if (!java.util.Arrays.equals(xt.shape(), want) || rowTimesteps.size(0) != rows) {
            throw new ShapeMismatchException("packed model: x " + java.util.Arrays.toString(xt.shape()) + " and "
                    + rowTimesteps.size(0) + " timesteps for rows " + java.util.Arrays.toString(want));
        }
        int samples = copies * batch.samples();
        in.put(contract.latent(), (xt.isContiguous() ? xt : xt.contiguous()).reshape(rows, want[1], want[2] * want[3]));
        in.put(contract.timestep(), perSample(rowTimesteps, samples));
        if (contract.label() != null) {
            if (labels == null || labels.rank() != 1 || labels.size(0) != samples) {
                throw new ShapeMismatchException("packed model: it takes one label per sample (" + samples + "), got "
                        + (labels == null ? "none" : java.util.Arrays.toString(labels.shape())));
            }
            in.put(contract.label(), labels);
        }
        Tensor out = execution.run(in).get("out");
        return reorder(out.isContiguous() ? out : out.contiguous(), rows);
    }

    /** Sample e of copy k takes the timestep of the row its tokens lie in. */
    private Tensor perSample(Tensor rowTimesteps, int samples) {
        if (timesteps == null || timesteps.dtype() != rowTimesteps.dtype()) {
            timesteps = Tensor.zeros(rowTimesteps.dtype(), samples);
            timestepsOf = null;
        }
        if (rowTimesteps != timestepsOf) {
            fromRow = new Tensor[samples];
            toSample = new Tensor[samples];
            int e = batch.samples();
            for (int i = 0; i < samples; i++) {
                int row = i / e * batch.rows() + batch.row(i % e);
                fromRow[i] = rowTimesteps.slice(0, row, row + 1);
                toSample[i] = timesteps.slice(0, i, i + 1);
            }
            timestepsOf = rowTimesteps;
        }
        for (int i = 0; i < samples; i++) {
            toSample[i].copyFrom(fromRow[i]);
        }
        return timesteps;
    }

    /** [rows, L, p·p·C'] in (p q c) order → [rows, L, C', p·p]. */
    private Tensor reorder(Tensor out, int rows) {
        int patch = batch.latentShape()[3];
        int length = batch.rowLength();
        if (out.rank() != 3 || out.size(0) != rows || out.size(1) != length || out.size(2) % patch != 0) {
            throw new ShapeMismatchException("packed model: output " + java.util.Arrays.toString(out.shape())
                    + " is not [" + rows + ", " + length + ", p·p·C'] for p·p = " + patch);
        }
        int channels = out.size(2) / patch;
        if (reordered == null || reordered.size(2) != channels) {
            reordered = Tensor.zeros(DType.F32, rows, length, channels, patch);
            outputOf = null;
        }
        if (out != outputOf) {
            outputView = out.reshape(rows * length, patch, channels).transpose(1, 2);
            reorderedView = reordered.reshape(rows * length, channels, patch);
            outputOf = out;
        }
        reorderedView.copyFrom(outputView);
        return reordered;
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            plan.release(execution);
        }
    }
}
