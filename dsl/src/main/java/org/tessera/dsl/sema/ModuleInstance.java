package org.tessera.dsl.sema;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tessera.dsl.ast.Ast;
import org.tessera.dsl.diag.Span;

/**
 * A block instantiated with concrete parameters: its compile-time environment (parameters,
 * lets, weights and sub-blocks by dotted name), its own weights and its forward definition.
 *
 * @param declName the block's declared name (for messages)
 * @param prefix weight-key prefix, e.g. {@code "blocks.3.attn."}; empty for the root
 * @param env names visible in the forward body
 * @param weights the weights this block declares itself (not those of its sub-blocks)
 * @param forward the forward member, or null for a block without one
 * @param contracts the {@code contract { ... }} members that applied (at most one is valid)
 */
record ModuleInstance(
        String declName,
        String prefix,
        Map<String, CompileValue> env,
        List<WeightSpec> weights,
        Ast.ForwardMember forward,
        List<Ast.ContractMember> contracts) {

    /** A weight declared by a block, with its full checkpoint key. */
    record WeightSpec(String key, int[] shape, boolean fixed, org.tessera.engine.io.WeightInit init, Span span) {}

    static ModuleInstance create(String declName, String prefix) {
        return new ModuleInstance(declName, prefix, new LinkedHashMap<>(), new ArrayList<>(), null, new ArrayList<>());
    }

    ModuleInstance withForward(Ast.ForwardMember f) {
        return new ModuleInstance(declName, prefix, env, weights, f, contracts);
    }

    /** Every weight of this instance and its sub-blocks, in declaration order. */
    List<WeightSpec> allWeights() {
        List<WeightSpec> out = new ArrayList<>();
        collect(this, out);
        return out;
    }

    private static void collect(ModuleInstance m, List<WeightSpec> out) {
        out.addAll(m.weights());
        for (CompileValue v : m.env().values()) {
            switch (v) {
                case CompileValue.ModuleV sub -> collect(sub.module(), out);
                case CompileValue.ModuleListV subs -> subs.modules().forEach(s -> collect(s, out));
                default -> {}
            }
        }
    }

    @Override
    public boolean equals(Object o) {
        return this == o;
    }

    @Override
    public int hashCode() {
        return System.identityHashCode(this);
    }
}
