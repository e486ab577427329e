package org.tessera.runtime;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tessera.engine.tensor.Tensor;

/**
 * Every stage's result of one run of a pipeline, by stage name, in the order the stages ran.
 * The tensors belong to the caller.
 */
public final class PipelineResult {
    private final Map<String, Tensor> results;

    PipelineResult(Map<String, Tensor> results) {
        this.results = Collections.unmodifiableMap(new LinkedHashMap<>(results));
    }

    /**
     * The result of stage {@code name}.
     *
     * @throws IllegalArgumentException naming the stages when there is none of that name
     */
    public Tensor get(String name) {
        Tensor t = results.get(name);
        if (t == null) {
            throw new IllegalArgumentException(
                    "no result '" + name + "' (results: " + String.join(", ", names()) + ")");
        }
        return t;
    }

    /** The results' names, in the order the stages ran. */
    public List<String> names() {
        return List.copyOf(results.keySet());
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("PipelineResult[");
        results.forEach((k, v) -> sb.append(sb.length() > 15 ? ", " : "")
                .append(k)
                .append(' ')
                .append(java.util.Arrays.toString(v.shape())));
        return sb.append(']').toString();
    }
}
