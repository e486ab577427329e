package org.tessera.engine.graph;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Places every buffer-owning value in one slab. A value owns a buffer unless it is a constant
 * or a view (a view aliases its source's buffer and extends its lifetime to the view's last
 * use). A buffer lives from the node that defines it to its last use; graph inputs live for the
 * whole run and outputs from their definition to the end, so neither is ever overwritten. Buffers
 * are placed greedily, largest first, at the lowest 64-byte-aligned offset that does not overlap
 * any already-placed buffer with an intersecting lifetime (first fit).
 *
 * @param slots where each buffer lies and when it lives, by the owning value's id
 * @param slabBytes the slab size
 * @param unsharedBytes the slab size without reuse: the sum of all buffers
 */
record MemoryPlan(Map<Integer, Slot> slots, long slabBytes, long unsharedBytes) {
    static final long ALIGNMENT = 64;

    /**
     * One buffer's place in the slab and its lifetime.
     *
     * @param offset byte offset in the slab (64-byte aligned)
     * @param bytes aligned size
     * @param start index of the defining node (0 for inputs)
     * @param end index of the last use, inclusive (the node count for inputs and outputs)
     */
    record Slot(long offset, long bytes, int start, int end) {
        /** True when both buffers are live at some node and their byte ranges intersect. */
        boolean conflicts(Slot o) {
            return start <= o.end && o.start <= end && offset < o.offset + o.bytes && o.offset < offset + bytes;
        }
    }

    /** Number of buffers. */
    int buffers() {
        return slots.size();
    }

    /** Slab byte offset of the buffer owned by value {@code id}. */
    long offset(int id) {
        return slots.get(id).offset();
    }

    /** One buffer: aligned size and inclusive lifetime in node indices. */
    private record Buffer(int value, long bytes, int start, int end) {
        boolean overlapsInTime(Buffer o) {
            return start <= o.end && o.start <= end;
        }
    }

    static MemoryPlan of(Graph g, boolean reuse) {
        List<Node> nodes = g.nodes();
        int last = nodes.size();
        Map<Integer, Integer> root = new HashMap<>();
        Map<Integer, int[]> life = new HashMap<>(); // root id -> {start, end}
        Map<Integer, Long> size = new HashMap<>();
        for (int i = 0; i < nodes.size(); i++) {
            Node n = nodes.get(i);
            int id = n.output().id();
            if (n.op() instanceof SourceOps.Constant) {
                root.put(id, -1);
            } else if (n.op().isView()) {
                root.put(id, root.get(n.input(0).id()));
            } else {
                root.put(id, id);
                boolean input = n.op() instanceof SourceOps.Input;
                life.put(id, new int[] {input ? 0 : i, input ? last : i});
                size.put(id, align(n.output().byteSize()));
            }
            for (Value v : n.inputs()) {
                extend(life, root.get(v.id()), i);
            }
        }
        for (Value v : g.outputs().values()) {
            extend(life, root.get(v.id()), last);
        }
        List<Buffer> buffers = new ArrayList<>();
        long unshared = 0;
        for (Map.Entry<Integer, int[]> e : life.entrySet()) {
            long bytes = size.get(e.getKey());
            buffers.add(new Buffer(e.getKey(), bytes, e.getValue()[0], e.getValue()[1]));
            unshared += bytes;
        }
        buffers.sort(Comparator.comparingLong(Buffer::bytes)
                .reversed()
                .thenComparingInt(Buffer::start)
                .thenComparingInt(Buffer::value));
        Map<Integer, Long> offsets = new HashMap<>();
        Map<Integer, Slot> slots = new HashMap<>();
        List<Buffer> placed = new ArrayList<>();
        long slab = 0;
        long next = 0;
        for (Buffer b : buffers) {
            long offset;
            if (reuse) {
                offset = firstFit(b, placed, offsets);
            } else {
                offset = next;
                next += b.bytes;
            }
            offsets.put(b.value, offset);
            slots.put(b.value, new Slot(offset, b.bytes, b.start, b.end));
            placed.add(b);
            slab = Math.max(slab, offset + b.bytes);
        }
        return new MemoryPlan(Map.copyOf(slots), slab, unshared);
    }

    /** The lowest offset where {@code b} fits between the placed buffers that are live at the same time. */
    private static long firstFit(Buffer b, List<Buffer> placed, Map<Integer, Long> offsets) {
        List<long[]> busy = new ArrayList<>(); // {offset, end}
        for (Buffer p : placed) {
            if (p.overlapsInTime(b)) {
                long o = offsets.get(p.value);
                busy.add(new long[] {o, o + p.bytes});
            }
        }
        busy.sort(Comparator.comparingLong(r -> r[0]));
        long offset = 0;
        for (long[] r : busy) {
            if (offset + b.bytes <= r[0]) {
                break;
            }
            offset = Math.max(offset, r[1]);
        }
        return offset;
    }

    private static void extend(Map<Integer, int[]> life, Integer root, int index) {
        if (root == null || root < 0) {
            return;
        }
        int[] l = life.get(root);
        l[1] = Math.max(l[1], index);
    }

    /** Bytes rounded up to the alignment; at least one unit so every buffer has its own address. */
    static long align(long bytes) {
        return Math.max(ALIGNMENT, (bytes + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT);
    }
}
