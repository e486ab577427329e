package org.tessera.engine.packing;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

/**
 * Where each example's tokens go when examples of different sizes share rows of a fixed length
 * (Patch n' Pack, NaViT): example i fills tokens [offset, offset + tokens) of row {@code row}.
 * Rows are filled first-fit decreasing — the examples longest first, each into the first row with
 * room — so a row's length, not the mix of sizes, is what a compiled plan depends on.
 *
 * @param rowLength tokens per row
 * @param rows rows used
 * @param placements one per example, in the examples' order
 */
public record PackPlan(int rowLength, int rows, List<Placement> placements) {
    public PackPlan {
        placements = List.copyOf(placements);
    }

    /**
     * One example's place: its grid of patches (frames, rows, columns; 1 frame for an image) and
     * where its tokens lie, frames slowest, then rows, then columns.
     *
     * @param kept the grid positions (t·h·w + y·w + x) of the tokens packed, ascending, when some
     *     were dropped (see {@link TokenDropping}); null when all are
     */
    public record Placement(int row, int offset, int frames, int height, int width, int[] kept) {
        public Placement(int row, int offset, int frames, int height, int width) {
            this(row, offset, frames, height, width, null);
        }

        /** Tokens in the row: the grid's, less those dropped. */
        public int tokens() {
            return kept == null ? frames * height * width : kept.length;
        }

        /** The grid position of the row's i-th token of this example. */
        public int position(int i) {
            return kept == null ? i : kept[i];
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Placement p
                    && row == p.row
                    && offset == p.offset
                    && frames == p.frames
                    && height == p.height
                    && width == p.width
                    && java.util.Arrays.equals(kept, p.kept);
        }

        @Override
        public int hashCode() {
            return java.util.Objects.hash(row, offset, frames, height, width, java.util.Arrays.hashCode(kept));
        }
    }

    /** A grid of patches: frames × height × width. */
    public record Grid(int frames, int height, int width) {
        public Grid {
            if (frames < 1 || height < 1 || width < 1) {
                throw new IllegalArgumentException("a grid of patches needs every size ≥ 1, got " + this);
            }
        }

        public long tokens() {
            return (long) frames * height * width;
        }
    }

    /**
     * Packs {@code grids} into rows of {@code rowLength} tokens, first-fit decreasing.
     *
     * @throws IllegalArgumentException naming the example when one is longer than a row
     */
    public static PackPlan firstFitDecreasing(List<Grid> grids, int rowLength) {
        return firstFitDecreasing(grids, null, rowLength);
    }

    /**
     * {@link #firstFitDecreasing(List, int)} of examples of which only the tokens {@code kept}
     * (per example: grid positions, ascending; a null list or entry keeps all) are packed.
     */
    public static PackPlan firstFitDecreasing(List<Grid> grids, List<int[]> kept, int rowLength) {
        if (rowLength < 1) {
            throw new IllegalArgumentException("rows of " + rowLength + " tokens");
        }
        long[] length = new long[grids.size()];
        Integer[] order = new Integer[grids.size()];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
            int[] k = kept == null ? null : kept.get(i);
            length[i] = k == null ? grids.get(i).tokens() : k.length;
            if (length[i] > rowLength) {
                throw new IllegalArgumentException("example " + i + " is " + length[i] + " tokens (" + grids.get(i)
                        + "), longer than a row of " + rowLength);
            }
        }
        // longest first; among equals, the earlier example first (a stable sort), so plans repeat
        Arrays.sort(order, Comparator.comparingLong((Integer i) -> length[i]).reversed());
        List<Integer> used = new ArrayList<>(); // tokens taken in each row
        Placement[] placed = new Placement[grids.size()];
        for (int i : order) {
            Grid g = grids.get(i);
            int row = 0;
            while (row < used.size() && used.get(row) + length[i] > rowLength) {
                row++;
            }
            if (row == used.size()) {
                used.add(0);
            }
            placed[i] = new Placement(
                    row, used.get(row), g.frames(), g.height(), g.width(), kept == null ? null : kept.get(i));
            used.set(row, used.get(row) + (int) length[i]);
        }
        return new PackPlan(rowLength, used.size(), Arrays.asList(placed));
    }

    /**
     * No packing: each example in a row of its own, padded to the longest — the batch a model that
     * cannot pack would run, and what packing is measured against.
     */
    public static PackPlan onePerRow(List<Grid> grids) {
        long longest = grids.stream().mapToLong(Grid::tokens).max().orElse(1);
        if (longest > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("an example of " + longest + " tokens");
        }
        List<Placement> placed = new ArrayList<>();
        for (int i = 0; i < grids.size(); i++) {
            Grid g = grids.get(i);
            placed.add(new Placement(i, 0, g.frames(), g.height(), g.width()));
        }
        return new PackPlan((int) longest, grids.size(), placed);
    }

    /** Tokens holding an example, over all rows: the rest is padding. */
    public long usedTokens() {
        return placements.stream().mapToLong(Placement::tokens).sum();
    }
}
