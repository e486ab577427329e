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

    /** Floating-point operations of one run of this node, as its op defines them ({@link Op#flops}). */
    public long flops() {
        return op.flops(this);
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
