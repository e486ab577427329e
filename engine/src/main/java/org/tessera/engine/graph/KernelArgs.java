package org.tessera.engine.graph;

import java.lang.foreign.Arena;
import java.util.function.Consumer;
import org.tessera.engine.backend.Backend;
import org.tessera.engine.backend.PackedMatrix;
import org.tessera.engine.tensor.Tensor;

/**
 * What an op's binding ({@link Op#kernel}, {@link Op#deviceKernel}) gets to build its step.
 *
 * @param backend the op families to call
 * @param node the node, with its operand and output values
 * @param in the operands' tensors, in the node's input order
 * @param out the output tensor
 * @param packedWeight the pre-packed weightᵀ of a linear node, or null to use the weight as is
 * @param arena owns the small host tensors the step keeps (scalar operands)
 * @param own takes device memory the step keeps, for the execution to free
 */
public record KernelArgs(
        Backend backend,
        Node node,
        Tensor[] in,
        Tensor out,
        PackedMatrix packedWeight,
        Arena arena,
        Consumer<AutoCloseable> own) {}
