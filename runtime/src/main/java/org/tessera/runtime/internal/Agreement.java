package org.tessera.runtime.internal;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import org.tessera.engine.tensor.Tensor;

/**
 * How well a classifier's labels agree with the classes samples were drawn for: the share of
 * samples whose largest logit is their conditioning class, over all and per class. A generator
 * that follows its conditioning scores near the classifier's own test accuracy.
 *
 * @param classes the class each sample was drawn for
 * @param predicted the classifier's label of each
 */
record Agreement(long[] classes, long[] predicted) {
    /**
     * @param logits the classifier's output [N, K] for N samples
     * @throws IllegalArgumentException naming the stage when the logits are not one row per class given
     */
    static Agreement of(Tensor logits, long[] classes, String stage) {
        if (logits.rank() != 2 || logits.size(0) != classes.length) {
            throw new IllegalArgumentException("stage '" + stage + "' gives " + Arrays.toString(logits.shape())
                    + " for " + classes.length + " samples; a classifier gives logits [" + classes.length
                    + ", classes]");
        }
        return new Agreement(classes.clone(), argmax(logits));
    }

    /** The index of each row's largest logit (the first of equal ones), as argmax does. */
    static long[] argmax(Tensor logits) {
        int n = logits.size(0);
        int k = logits.size(1);
        float[] z = logits.toFloatArray();
        long[] out = new long[n];
        for (int i = 0; i < n; i++) {
            int best = 0;
            for (int j = 1; j < k; j++) {
                if (z[i * k + j] > z[i * k + best]) {
                    best = j;
                }
            }
            out[i] = best;
        }
        return out;
    }

    /** Samples labelled with their class. */
    long matching() {
        long m = 0;
        for (int i = 0; i < classes.length; i++) {
            m += classes[i] == predicted[i] ? 1 : 0;
        }
        return m;
    }

    /** One line: the share over all, then per class where there are several. */
    String describe() {
        StringBuilder sb = new StringBuilder(String.format(
                Locale.ROOT,
                "%d of %d samples (%.1f%%) are labelled with the class they were sampled for",
                matching(),
                classes.length,
                100.0 * matching() / classes.length));
        Map<Long, Double> byClass = byClass();
        if (byClass.size() > 1) {
            sb.append("; by class ").append(describe(byClass));
        }
        return sb.toString();
    }

    /** The share labelled with their class, per class, in class order. */
    Map<Long, Double> byClass() {
        TreeMap<Long, long[]> counts = new TreeMap<>(); // class → {matching, count}
        for (int i = 0; i < classes.length; i++) {
            long[] c = counts.computeIfAbsent(classes[i], k -> new long[2]);
            c[0] += classes[i] == predicted[i] ? 1 : 0;
            c[1]++;
        }
        Map<Long, Double> out = new LinkedHashMap<>();
        counts.forEach((k, c) -> out.put(k, (double) c[0] / c[1]));
        return out;
    }

    /** "0: 99%, 1: 100%, …". */
    static String describe(Map<Long, Double> byClass) {
        StringBuilder list = new StringBuilder();
        byClass.forEach((k, share) -> list.append(list.isEmpty() ? "" : ", ")
                .append(String.format(Locale.ROOT, "%d: %.0f%%", k, 100 * share)));
        return list.toString();
    }
}
