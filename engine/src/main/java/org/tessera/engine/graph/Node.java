package org.tessera.engine.graph;

import java.util.List;
import java.util.stream.Collectors;

/**
 * One operation of a {@link Graph}: {@code output = op(inputs)}.
 *
 * @param op what is computed, with its attributes
 * @param inputs the operands in the op's order (optional operands absent, never null)
 * @param output the value this node defines
 * @param location where the node came from, e.g. {@code dit.tess:12:5}, or null
 */
public record Node(Op op, List<Value> inputs, Value output, String location) {
    public Node {
        inputs = List.copyOf(inputs);
    }

    /** The op's name, e.g. {@code linear}. */
    public String kind() {
        return op.kind();
    }

    /** Operand {@code i}. */
    public Value input(int i) {
        return inputs.get(i);
    }

    /** {@code %7 linear} plus the location when known, for messages. */
    public String label() {
        return (location == null ? "" : location + ": ") + kind() + " %" + output.id();
    }

    /** The same op and location with other operands and output. */
    Node with(List<Value> newInputs, Value newOutput) {
        return new Node(op, newInputs, newOutput, location);
    }

    /**
     * Floating-point operations of one run of this node: 2·M·K·N for products (linear, matmul,
     * convolutions as their GEMM), 4·B·H·Nq·Nk·d for attention (QKᵀ and PV), and a small
     * per-element count for pointwise and normalisation ops; 0 for copies, views and tables.
     */
    public long flops() {
        long n = output.numel();
        return switch (op) {
            case Op.Linear l -> 2 * n * input(0).size(-1);
            case Op.MatMul m -> 2 * n * input(0).size(-1);
            case Op.Attention a -> {
                Value q = input(0);
                Value k = input(1);
                yield 4L * q.size(0) * q.size(1) * q.size(2) * k.size(2) * q.size(3);
            }
            case Op.PatchEmbed p -> 2 * n * (input(1).numel() / input(1).size(0));
            case Op.Conv2d c -> 2 * n * (input(1).numel() / input(1).size(0));
            case Op.LayerNorm l -> 5 * n;
            case Op.GroupNorm g -> 5 * n;
            case Op.LayerNormModulate l -> 7 * n;
            case Op.Softmax s -> 3 * n;
            case Op.Modulate m -> 2 * n;
            case Op.Binary b -> n;
            case Op.Scalar s -> n;
            case Op.Activate a -> n;
            default -> 0;
        };
    }

    /** One line: {@code %7 = linear(%3, %5, %6) act=GELU_TANH : f32[2, 16, 256] @ dit.tess:12:5}. */
    public String describe() {
        StringBuilder sb =
                new StringBuilder("%").append(output.id()).append(" = ").append(kind());
        sb.append(inputs.stream().map(v -> "%" + v.id()).collect(Collectors.joining(", ", "(", ")")));
        String attrs = op.attributes();
        if (!attrs.isEmpty()) {
            sb.append(' ').append(attrs);
        }
        sb.append(" : ")
                .append(output.dtype().shortName())
                .append(org.tessera.engine.tensor.Shapes.toString(output.shape()));
        if (location != null) {
            sb.append(" @ ").append(location);
        }
        return sb.toString();
    }
}
