package org.tessera.runtime.internal;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.SequencedMap;
import org.tessera.dsl.pipeline.PipelineSettings;
import org.tessera.engine.packing.PackPlan;
import org.tessera.engine.packing.Patches;
import org.tessera.engine.packing.TokenDropping;
import org.tessera.engine.tensor.Tensor;

/**
 * Patch n' Pack as pipeline stages: {@code pack([stages], ...)} cuts every example of its input
 * stages into patches at its own size and packs them into rows (first-fit decreasing, through
 * {@link Patches}); {@code unpack(rows)} cuts the rows back into examples. The rows are what a
 * packed model reads, so a script can write them, look at how full they are, and see what token
 * dropping leaves.
 */
final class PackStages {
    private PackStages() {}

    /**
     * A pack stage's result: the rows, and what cutting them back needs.
     *
     * @param sizes each example's [F, H, W] (F = 1 for an image)
     * @param clips whether any example is a clip (the unpacked batch is then [N, F, C, H, W])
     */
    record Rows(Patches.Packed packed, int channels, int frames, int patch, List<int[]> sizes, boolean clips) {
        /** Patches in the examples, before any was dropped. */
        long patches() {
            long n = 0;
            for (PackPlan.Placement pl : packed.plan().placements()) {
                n += (long) pl.frames() * pl.height() * pl.width();
            }
            return n;
        }
    }

    /**
     * The examples of {@code inputs} packed as {@code stage} says. An input is images [N, C, H, W]
     * or clips [N, F, C, H, W]; where {@code inputSizes} gives an input's sizes (a packed sample
     * stage's, padded to the largest), each example is cut to its own first.
     *
     * @throws IllegalArgumentException naming the stage and the example that does not fit
     */
    static Rows pack(PipelineSettings.PackStage stage, List<Tensor> inputs, List<int[][]> inputSizes) {
        List<Tensor> examples = new ArrayList<>();
        List<int[]> sizes = new ArrayList<>();
        boolean clips = false;
        for (int i = 0; i < inputs.size(); i++) {
            Tensor x = inputs.get(i);
            String input = stage.inputs().get(i);
            if (x.rank() != 4 && x.rank() != 5) {
                throw new IllegalArgumentException("stage '" + stage.name() + "': pack takes images [N, C, H, W] or"
                        + " clips [N, F, C, H, W]; '" + input + "' is " + java.util.Arrays.toString(x.shape()));
            }
            boolean clip = x.rank() == 5;
            clips |= clip;
            int[][] own = inputSizes.get(i);
            for (int n = 0; n < x.size(0); n++) {
                Tensor e = x.slice(0, n, n + 1);
                int[] s = own == null ? null : own[n];
                // [1, (F,) C, H, W] cut to the example's own size, then as Patches takes it: [C, (F,) H, W]
                int rank = x.rank();
                if (s != null) {
                    e = e.slice(rank - 2, 0, s[s.length - 2]).slice(rank - 1, 0, s[s.length - 1]);
                    if (clip && s.length == 3) {
                        e = e.slice(1, 0, s[0]);
                    }
                }
                int[] shape = e.shape();
                e = clip
                        ? e.contiguous()
                                .reshape(shape[1], shape[2], shape[3], shape[4])
                                .permute(1, 0, 2, 3)
                        : e.contiguous().reshape(shape[1], shape[2], shape[3]);
                e = e.contiguous();
                examples.add(e);
                sizes.add(clip ? new int[] {shape[1], shape[3], shape[4]} : new int[] {1, shape[2], shape[3]});
            }
        }
        TokenDropping dropping = stage.drop() == null
                ? TokenDropping.NONE
                : stage.drop().similar()
                        ? new TokenDropping.Similar(
                                stage.drop().value(), stage.drop().share(), stage.seed())
                        : new TokenDropping.Random(stage.drop().value(), stage.seed());
        try {
            PackPlan plan = Patches.plan(examples, stage.frames(), stage.patch(), stage.row(), dropping);
            Patches.Packed packed = Patches.pack(examples, stage.frames(), stage.patch(), plan);
            return new Rows(packed, examples.getFirst().size(0), stage.frames(), stage.patch(), sizes, clips);
        } catch (IllegalArgumentException e) { // Patches names the example by its number over all inputs
            throw new IllegalArgumentException("stage '" + stage.name() + "': " + e.getMessage(), e);
        }
    }

    /**
     * The tensors a pack stage named {@code name} leaves: {@code name} the tokens [R, L, C·pt·p·p],
     * {@code name.segments} [R, L] each token's example (−1: padding), {@code name.positions}
     * [R, L, 3] each token's (frame, row, column) in patches within its example.
     */
    static SequencedMap<String, Tensor> parts(String name, Rows rows) {
        SequencedMap<String, Tensor> out = new LinkedHashMap<>();
        out.put(name, rows.packed().tokens());
        out.put(name + ".segments", rows.packed().segments());
        out.put(name + ".positions", rows.packed().positions());
        return out;
    }

    /** One line on how the rows came out: examples, tokens kept, rows and how full they are. */
    static String describe(Rows rows) {
        PackPlan plan = rows.packed().plan();
        long kept = plan.usedTokens();
        long patches = rows.patches();
        long capacity = (long) plan.rows() * plan.rowLength();
        String dropped = kept == patches
                ? ""
                : String.format(
                        Locale.ROOT, " (%,d of %,d patches kept, %.1f%%)", kept, patches, 100.0 * kept / patches);
        return String.format(
                Locale.ROOT,
                "%d example%s, %,d tokens%s, in %d row%s of %,d: %.1f%% full",
                rows.sizes().size(),
                rows.sizes().size() == 1 ? "" : "s",
                kept,
                dropped,
                plan.rows(),
                plan.rows() == 1 ? "" : "s",
                plan.rowLength(),
                100.0 * kept / capacity);
    }

    /**
     * The rows cut back into their examples, padded to the largest with −1 as a packed sample
     * stage's are; a patch left out takes the previous frame's at its place (zeros in a first frame).
     */
    static Tensor unpack(Rows rows) {
        Patches.Packed p = rows.packed();
        List<Tensor> parts = Patches.unpack(
                p.tokens(), p.plan(), rows.channels(), rows.frames(), rows.patch(), Patches.Order.CHANNELS_FIRST);
        return PackedBatch.padded(parts, rows.sizes(), rows.channels(), rows.clips(), -1f);
    }

    /** Each example's own size, as a packed sample stage reports them. */
    static int[][] sizes(Rows rows) {
        return PackedBatch.ownSizes(rows.sizes(), rows.clips());
    }
}
