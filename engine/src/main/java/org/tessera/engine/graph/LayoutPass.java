package org.tessera.engine.graph;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Decides, from the strides each value will have, which shape ops are views and where a
 * row-major copy is needed:
 * <ul>
 *   <li>permute, slice and unsqueeze are always views; a reshape is a view when the source's
 *       strides allow it (as {@link org.tessera.engine.tensor.Tensor#reshape} decides), else a
 *       contiguous copy is inserted before it;</li>
 *   <li>{@code contiguous} of a value that already is row-major becomes a free view;</li>
 *   <li>an operand a kernel needs row-major (linear's input, a norm's input, …) that is not gets a
 *       contiguous copy, shared by all consumers that need it.</li>
 * </ul>
 * After this pass every view node is a real view and every other node writes a fresh row-major buffer.
 */
final class LayoutPass {
    private LayoutPass() {}

    static Graph apply(Graph g, List<String> log) {
        Map<Integer, Layout> layouts = new HashMap<>();
        Map<Integer, Value> copies = new HashMap<>();
        List<Node> out = new ArrayList<>(g.nodes().size());
        int nextId = g.nextValueId();
        int views = 0;
        int inserted = 0;
        int freed = 0;
        for (Node n : g.nodes()) {
            Op op = n.op();
            if (op instanceof SourceOps.Constant c) {
                layouts.put(n.output().id(), Layout.of(c.value()));
                out.add(n);
                continue;
            }
            if (op.isView()) {
                Value src = n.input(0);
                Layout view = layouts.get(src.id()).view(op);
                if (view == null) {
                    Value copy = copies.get(src.id());
                    if (copy == null) {
                        copy = new Value(nextId++, src.shape(), src.dtype());
                        out.add(new Node(new ShapeOps.Contiguous(), List.of(src), copy, n.location()));
                        layouts.put(copy.id(), Layout.contiguous(copy.shape()));
                        copies.put(src.id(), copy);
                        inserted++;
                    }
                    n = n.with(List.of(copy), n.output());
                    view = layouts.get(copy.id()).view(op);
                }
                layouts.put(n.output().id(), view);
                out.add(n);
                views++;
                continue;
            }
            if (op instanceof ShapeOps.Contiguous
                    && layouts.get(n.input(0).id()).isContiguous()) {
                Node alias = new Node(new ShapeOps.Reshape(n.output().shape()), n.inputs(), n.output(), n.location());
                layouts.put(n.output().id(), layouts.get(n.input(0).id()));
                out.add(alias);
                freed++;
                continue;
            }
            List<Value> inputs = new ArrayList<>(n.inputs());
            boolean changed = false;
            for (int slot = 0; slot < inputs.size(); slot++) {
                Value v = inputs.get(slot);
                if (!op.needsContiguous(slot) || layouts.get(v.id()).isContiguous()) {
                    continue;
                }
                Value copy = copies.get(v.id());
                if (copy == null) {
                    copy = new Value(nextId++, v.shape(), v.dtype());
                    out.add(new Node(new ShapeOps.Contiguous(), List.of(v), copy, n.location()));
                    layouts.put(copy.id(), Layout.contiguous(copy.shape()));
                    copies.put(v.id(), copy);
                    inserted++;
                }
                inputs.set(slot, copy);
                changed = true;
            }
            Node node = changed ? n.with(inputs, n.output()) : n;
            layouts.put(node.output().id(), Layout.contiguous(node.output().shape()));
            out.add(node);
        }
        log.add("layout: " + views + " view" + (views == 1 ? "" : "s") + ", " + inserted + " contiguous cop"
                + (inserted == 1 ? "y" : "ies") + " inserted"
                + (freed > 0 ? ", " + freed + " contiguous made views" : ""));
        return g.withNodes(out, nextId);
    }
}
