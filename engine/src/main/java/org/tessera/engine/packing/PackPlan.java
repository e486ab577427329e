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
     */
    public record Placement(int row, int offset, int frames, int height, int width) {
        public int tokens() {
            return frames * height * width;
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
        if (rowLength < 1) {
            throw new IllegalArgumentException("rows of " + rowLength + " tokens");
        }
        Integer[] order = new Integer[grids.size()];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
            if (grids.get(i).tokens() > rowLength) {
                throw new IllegalArgumentException("example " + i + " is "
                        + grids.get(i).tokens() + " tokens (" + grids.get(i) + "), longer than a row of " + rowLength);
            }
        }
        // longest first; among equals, the earlier example first (a stable sort), so plans repeat
        Arrays.sort(
                order,
                Comparator.comparingLong((Integer i) -> grids.get(i).tokens()).reversed());
        List<Integer> used = new ArrayList<>(); // tokens taken in each row
        Placement[] placed = new Placement[grids.size()];
        for (int i : order) {
            Grid g = grids.get(i);
            int row = 0;
            while (row < used.size() && used.get(row) + g.tokens() > rowLength) {
                row++;
            }
            if (row == used.size()) {
                used.add(0);
            }
            placed[i] = new Placement(row, used.get(row), g.frames(), g.height(), g.width());
            used.set(row, used.get(row) + (int) g.tokens());
        }
        return new PackPlan(rowLength, used.size(), Arrays.asList(placed));
    }

    /** Tokens holding an example, over all rows: the rest is padding. */
    public long usedTokens() {
        return placements.stream().mapToLong(Placement::tokens).sum();
    }
}
