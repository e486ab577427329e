package org.tessera.engine.train;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.LinkedHashMap;
import java.util.Map;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Tensor;

/**
 * An exponential moving average of the weights, {@code ema ← d·ema + (1 − d)·p} after each step,
 * as DiT's training keeps one with d = 0.9999 and samples from it. Starts as a copy of the
 * parameters.
 */
public final class Ema {
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;

    private final double decay;
    private final Map<String, Tensor> average = new LinkedHashMap<>();

    /** An average with decay {@code decay} in [0, 1), starting at {@code params}' values. */
    public Ema(double decay, Map<String, Tensor> params) {
        if (!(decay >= 0 && decay < 1)) {
            throw new IllegalArgumentException("EMA decay must be in [0, 1), got " + decay);
        }
        this.decay = decay;
        params.forEach((name, p) -> {
            Tensor copy = Tensor.zeros(DType.F32, p.shape());
            copy.copyFrom(p);
            average.put(name, copy);
        });
    }

    /** Moves the average towards {@code params}. */
    public void update(Map<String, Tensor> params) {
        for (Map.Entry<String, Tensor> e : average.entrySet()) {
            Tensor a = e.getValue();
            Tensor p = params.get(e.getKey());
            MemorySegment as = a.storage();
            MemorySegment ps = p.storage();
            long ab = a.byteOffset();
            long pb = p.byteOffset();
            for (long i = 0, n = a.numel(); i < n; i++) {
                double v = decay * as.get(F, ab + 4 * i) + (1 - decay) * ps.get(F, pb + 4 * i);
                as.set(F, ab + 4 * i, (float) v);
            }
        }
    }

    /** The averaged weights, by name (live: they change with each update). */
    public Map<String, Tensor> weights() {
        return average;
    }
}
