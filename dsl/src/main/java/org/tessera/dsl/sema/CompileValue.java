package org.tessera.dsl.sema;

import java.util.List;
import java.util.stream.Collectors;
import org.tessera.engine.graph.Value;

/**
 * What an expression evaluates to while a model is instantiated and lowered: compile-time
 * scalars and lists (parameters, sizes, shapes), tensors (graph values with static shapes), and
 * sub-block instances. {@link Poison} stands for an expression that already produced an error,
 * so one mistake is reported once rather than at every use.
 */
sealed interface CompileValue {

    /** Human-readable kind for messages: "int", "tensor [2, 16, 64]", … */
    String describe();

    record IntV(long value) implements CompileValue {
        public String describe() {
            return "int " + value;
        }
    }

    record FloatV(double value) implements CompileValue {
        public String describe() {
            return "float " + value;
        }
    }

    record BoolV(boolean value) implements CompileValue {
        public String describe() {
            return "bool " + value;
        }
    }

    record StrV(String value) implements CompileValue {
        public String describe() {
            return "string \"" + value + "\"";
        }
    }

    record ListV(List<CompileValue> items) implements CompileValue {
        public String describe() {
            return "list [" + items.stream().map(CompileValue::describe).collect(Collectors.joining(", ")) + "]";
        }
    }

    record TensorV(Value value) implements CompileValue {
        public String describe() {
            return "tensor " + java.util.Arrays.toString(value.shape());
        }
    }

    record ModuleV(ModuleInstance module) implements CompileValue {
        public String describe() {
            return "block " + module.declName();
        }
    }

    /** A weight named in a forward body; lowered to a graph constant on first use. */
    record WeightV(ModuleInstance.WeightSpec spec) implements CompileValue {
        public String describe() {
            return "weight " + spec.key() + " " + java.util.Arrays.toString(spec.shape());
        }
    }

    record ModuleListV(List<ModuleInstance> modules) implements CompileValue {
        public String describe() {
            return "list of " + modules.size() + " blocks";
        }
    }

    /** The result of an expression that already reported an error. */
    record Poison() implements CompileValue {
        public String describe() {
            return "<error>";
        }
    }

    CompileValue POISON = new Poison();
}
