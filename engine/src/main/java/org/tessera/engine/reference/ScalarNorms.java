package org.tessera.engine.reference;

import org.tessera.engine.backend.NormOps;
import org.tessera.engine.backend.OpChecks;
import org.tessera.engine.tensor.Tensor;

/** Softmax, LayerNorm (plain and fused with adaLN modulation) and GroupNorm as textbook two-pass loops in double: the test oracle. */
public final class ScalarNorms implements NormOps {

    /** A reference with no state. */
    public ScalarNorms() {}

    /** softmax(x)ᵢ = e^(xᵢ − max x) / Σⱼ e^(xⱼ − max x), per row of the last dimension. */
    @Override
    public void softmax(Tensor x, Tensor out) {
        OpChecks.rowwise("softmax", x, out);
        int d = x.size(-1);
        double[] v = x.toDoubleArray();
        for (int row = 0; d > 0 && row < v.length / d; row++) {
            int o = row * d;
            double max = Double.NEGATIVE_INFINITY;
            for (int i = 0; i < d; i++) {
                max = Math.max(max, v[o + i]);
            }
            double sum = 0;
            for (int i = 0; i < d; i++) {
                v[o + i] = Math.exp(v[o + i] - max);
                sum += v[o + i];
            }
            for (int i = 0; i < d; i++) {
                v[o + i] /= sum;
            }
        }
        RefArrays.write(out, v);
    }

    /** (x − mean) / √(var + eps) · weight + bias per row, with the population variance. */
    @Override
    public void layerNorm(Tensor x, Tensor weight, Tensor bias, float eps, Tensor out) {
        OpChecks.rowwise("layerNorm", x, out);
        int d = x.size(-1);
        OpChecks.optionalVector("layerNorm", "weight", weight, d);
        OpChecks.optionalVector("layerNorm", "bias", bias, d);
        double[] v = x.toDoubleArray();
        double[] w = weight == null ? null : weight.toDoubleArray();
        double[] b = bias == null ? null : bias.toDoubleArray();
        for (int row = 0; d > 0 && row < v.length / d; row++) {
            normalise(v, row * d, d, eps);
            for (int i = 0; i < d; i++) {
                v[row * d + i] = v[row * d + i] * (w == null ? 1 : w[i]) + (b == null ? 0 : b[i]);
            }
        }
        RefArrays.write(out, v);
    }

    /** normalise(x) · (1 + scale) + shift per row, shift and scale broadcast to x's shape. */
    @Override
    public void layerNormModulate(Tensor x, Tensor shift, Tensor scale, float eps, Tensor out) {
        OpChecks.rowwise("layerNormModulate", x, out);
        int[] shape = x.shape();
        OpChecks.broadcastsTo("layerNormModulate", "shift", shift, shape);
        OpChecks.broadcastsTo("layerNormModulate", "scale", scale, shape);
        int d = x.size(-1);
        double[] v = x.toDoubleArray();
        double[] sh = shift.toDoubleArray();
        double[] sc = scale.toDoubleArray();
        long[] shStrides = RefArrays.broadcastStrides(shift.shape(), shape);
        long[] scStrides = RefArrays.broadcastStrides(scale.shape(), shape);
        for (int row = 0; d > 0 && row < v.length / d; row++) {
            normalise(v, row * d, d, eps);
        }
        for (int i = 0; i < v.length; i++) {
            v[i] = v[i] * (1 + sc[RefArrays.index(i, shape, scStrides)]) + sh[RefArrays.index(i, shape, shStrides)];
        }
        RefArrays.write(out, v);
    }

    /** Each group of C/groups channels × all positions normalised together, then per-channel affine. */
    @Override
    public void groupNorm(Tensor x, int groups, Tensor weight, Tensor bias, float eps, Tensor out) {
        OpChecks.groupNorm(x, groups, weight, bias, out);
        int n = x.size(0);
        int c = x.size(1);
        int spatial = c == 0 ? 0 : Math.toIntExact(x.numel() / ((long) n * c));
        int groupLen = c / groups * spatial;
        double[] v = x.toDoubleArray();
        double[] w = weight == null ? null : weight.toDoubleArray();
        double[] b = bias == null ? null : bias.toDoubleArray();
        for (int i = 0; groupLen > 0 && i < n * groups; i++) {
            normalise(v, i * groupLen, groupLen, eps);
        }
        for (int i = 0; i < v.length && spatial > 0; i++) {
            int ch = i / spatial % c;
            v[i] = v[i] * (w == null ? 1 : w[ch]) + (b == null ? 0 : b[ch]);
        }
        RefArrays.write(out, v);
    }

    /** v[o, o+len) ← (v − mean) / √(var + eps), two passes. */
    private static void normalise(double[] v, int o, int len, float eps) {
        double mean = 0;
        for (int i = 0; i < len; i++) {
            mean += v[o + i];
        }
        mean /= len;
        double var = 0;
        for (int i = 0; i < len; i++) {
            double dx = v[o + i] - mean;
            var += dx * dx;
        }
        var /= len;
        double inv = 1 / Math.sqrt(var + eps);
        for (int i = 0; i < len; i++) {
            v[o + i] = (v[o + i] - mean) * inv;
        }
    }
}
