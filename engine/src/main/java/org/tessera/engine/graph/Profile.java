package org.tessera.engine.graph;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Wall time per node and per op kind, accumulated over the runs of
 * {@link Execution#run(Map, Profile)} (for {@code tessera bench}). Not thread-safe: give each
 * concurrent execution its own profile.
 */
public final class Profile {
    /**
     * Totals of one node or one op kind.
     *
     * @param name the node's label ({@code dit.tess:12:5: linear %7}) or the op kind
     * @param kind the op kind
     * @param calls how many times it ran
     * @param nanos total wall time
     * @param flops total floating-point operations
     */
    public record Entry(String name, String kind, long calls, long nanos, long flops) {
        /** Achieved GFLOP/s (0 when no time was measured). */
        public double gflops() {
            return nanos == 0 ? 0 : (double) flops / nanos;
        }
    }

    /** Mutable counters for one node. */
    private static final class Counter {
        long calls;
        long nanos;
    }

    private final Map<Node, Counter> byNode = new IdentityHashMap<>();
    private final List<Node> order = new ArrayList<>();
    private long runs;
    private long runNanos;
    private long bestRunNanos = Long.MAX_VALUE;

    public Profile() {}

    /** Adds one timed call of {@code node}. */
    void record(Node node, long nanos) {
        Counter c = byNode.get(node);
        if (c == null) {
            c = new Counter();
            byNode.put(node, c);
            order.add(node);
        }
        c.calls++;
        c.nanos += nanos;
        runNanos += nanos;
    }

    /** Starts a run: forgets the node time of one that failed part-way. */
    void beginRun() {
        runNanos = 0;
    }

    /** Counts one whole run. */
    void countRun() {
        runs++;
        bestRunNanos = Math.min(bestRunNanos, runNanos);
        runNanos = 0;
    }

    /**
     * Node time of the fastest whole run (0 before any). Set beside a best-of kernel benchmark,
     * this is the like-for-like figure: both then see the machine at its least disturbed.
     */
    public long bestRunNanos() {
        return runs == 0 ? 0 : bestRunNanos;
    }

    /** Runs recorded. */
    public long runs() {
        return runs;
    }

    /** Per node, in execution order. */
    public List<Entry> byNode() {
        List<Entry> out = new ArrayList<>(order.size());
        for (Node n : order) {
            Counter c = byNode.get(n);
            out.add(new Entry(n.label(), n.kind(), c.calls, c.nanos, c.calls * n.flops()));
        }
        return out;
    }

    /** Per op kind, most time first. */
    public List<Entry> byOp() {
        Map<String, long[]> sums = new LinkedHashMap<>();
        for (Entry e : byNode()) {
            long[] s = sums.computeIfAbsent(e.kind(), k -> new long[3]);
            s[0] += e.calls();
            s[1] += e.nanos();
            s[2] += e.flops();
        }
        List<Entry> out = new ArrayList<>();
        sums.forEach((kind, s) -> out.add(new Entry(kind, kind, s[0], s[1], s[2])));
        out.sort(Comparator.comparingLong(Entry::nanos).reversed());
        return out;
    }

    /**
     * Linear layers grouped by their GEMM shape M×K×N (and fused activation), most time first:
     * what to hold against {@code tessera bench gemm} for the same shapes.
     */
    public List<Entry> byLinearShape() {
        Map<String, long[]> sums = new LinkedHashMap<>();
        for (Node n : order) {
            if (!(n.op() instanceof ProductOps.Linear l)) {
                continue;
            }
            int k = n.input(0).size(-1);
            long m = n.input(0).numel() / Math.max(1, k);
            int outFeatures = n.input(1).size(0);
            String key = m + "×" + k + "×" + outFeatures
                    + (l.activation() == org.tessera.engine.backend.Activation.NONE
                            ? ""
                            : " +" + l.activation().name().toLowerCase(Locale.ROOT));
            Counter c = byNode.get(n);
            long[] s = sums.computeIfAbsent(key, x -> new long[3]);
            s[0] += c.calls;
            s[1] += c.nanos;
            s[2] += c.calls * n.flops();
        }
        List<Entry> out = new ArrayList<>();
        sums.forEach((shape, s) -> out.add(new Entry(shape, "linear", s[0], s[1], s[2])));
        out.sort(Comparator.comparingLong(Entry::nanos).reversed());
        return out;
    }

    /** Total time over all nodes. */
    public long totalNanos() {
        return byNode.values().stream().mapToLong(c -> c.nanos).sum();
    }

    /** Total FLOPs over all nodes. */
    public long totalFlops() {
        return byNode().stream().mapToLong(Entry::flops).sum();
    }

    /** Forgets everything recorded. */
    public void reset() {
        byNode.clear();
        order.clear();
        runs = 0;
        runNanos = 0;
        bestRunNanos = Long.MAX_VALUE;
    }

    /** {@link #table(int)} with the ten slowest nodes. */
    public String table() {
        return table(10);
    }

    /**
     * A formatted table: per op kind (calls, total ms, share of time, GFLOP/s), the linear layers
     * per GEMM shape, then the {@code topNodes} slowest nodes.
     */
    public String table(int topNodes) {
        long total = Math.max(1, totalNanos());
        StringBuilder sb = new StringBuilder();
        sb.append(
                String.format(Locale.ROOT, "%-20s %8s %12s %7s %10s%n", "op", "calls", "total ms", "share", "GFLOP/s"));
        for (Entry e : byOp()) {
            sb.append(String.format(
                    Locale.ROOT,
                    "%-20s %8d %12.3f %6.1f%% %10.2f%n",
                    e.name(),
                    e.calls(),
                    e.nanos() / 1e6,
                    100.0 * e.nanos() / total,
                    e.gflops()));
        }
        sb.append(String.format(
                Locale.ROOT,
                "%-20s %8s %12.3f %6.1f%% %10.2f%n",
                "total",
                "",
                total / 1e6,
                100.0,
                (double) totalFlops() / total));
        List<Entry> shapes = byLinearShape();
        if (!shapes.isEmpty()) {
            sb.append(String.format(
                    Locale.ROOT,
                    "%n%-28s %8s %12s %7s %10s%n",
                    "linear M×K×N",
                    "calls",
                    "total ms",
                    "share",
                    "GFLOP/s"));
            for (Entry e : shapes) {
                sb.append(String.format(
                        Locale.ROOT,
                        "%-28s %8d %12.3f %6.1f%% %10.2f%n",
                        e.name(),
                        e.calls(),
                        e.nanos() / 1e6,
                        100.0 * e.nanos() / total,
                        e.gflops()));
            }
        }
        if (topNodes > 0) {
            List<Entry> nodes = new ArrayList<>(byNode());
            nodes.sort(Comparator.comparingLong(Entry::nanos).reversed());
            sb.append(String.format(Locale.ROOT, "%nslowest nodes:%n"));
            for (Entry e : nodes.subList(0, Math.min(topNodes, nodes.size()))) {
                sb.append(String.format(
                        Locale.ROOT, "  %-50s %12.3f ms %10.2f GFLOP/s%n", e.name(), e.nanos() / 1e6, e.gflops()));
            }
        }
        return sb.toString();
    }

    @Override
    public String toString() {
        return table();
    }
}
