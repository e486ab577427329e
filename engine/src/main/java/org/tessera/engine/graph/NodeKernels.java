package org.tessera.engine.graph;

import java.lang.foreign.Arena;
import java.util.function.Consumer;
import org.tessera.engine.backend.Backend;
import org.tessera.engine.backend.PackedMatrix;
import org.tessera.engine.tensor.Tensor;

/**
 * Lowers one node to its step: the op's own binding ({@link Op#kernel}), or on a device backend
 * its device binding where it has one ({@link Op#deviceKernel}). Each op defines both once; this
 * only chooses.
 */
final class NodeKernels {
    private NodeKernels() {}

    /**
     * The step computing {@code node} from {@code in} into {@code out}.
     *
     * @param packedWeight the pre-packed weightᵀ of a linear node, or null to use the weight as is
     * @param arena owns the small host tensors the step keeps (scalar operands)
     * @param own takes device memory the step keeps, for the caller to free with the execution
     */
    static Runnable step(
            Backend backend,
            Node node,
            Tensor[] in,
            Tensor out,
            PackedMatrix packedWeight,
            Arena arena,
            Consumer<AutoCloseable> own) {
        KernelArgs k = new KernelArgs(backend, node, in, out, packedWeight, arena, own);
        if (!backend.onHost()) {
            Runnable device = node.op().deviceKernel(k);
            if (device != null) {
                return device;
            }
        }
        return node.op().kernel(k);
    }
}
