package org.tessera.engine.graph;

import org.tessera.engine.tensor.Tensor;

/** The graph's sources: inputs, and constants (weights, tables, folded values). Each record is one op's whole definition; see {@link Op}. */
public final class SourceOps {
    private SourceOps() {}

    /** A graph input, copied into the execution's buffers by {@link Execution#run}. */
    public record Input(String name) implements Op {
        public String kind() {
            return "input";
        }

        public String attributes() {
            return "\"" + name + "\"";
        }
    }

    /** A constant tensor: a weight, a table, or the result of constant folding. */
    public record Constant(String name, Tensor value) implements Op {
        public String kind() {
            return "constant";
        }

        public String attributes() {
            return "\"" + name + "\"";
        }
    }
}
