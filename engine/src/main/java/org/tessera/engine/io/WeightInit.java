package org.tessera.engine.io;

import org.tessera.engine.backend.Backend;
import org.tessera.engine.random.RandomStream;
import org.tessera.engine.tensor.Shapes;
import org.tessera.engine.tensor.Tensor;

/**
 * How a weight starts, as a model declares it ({@code weight w: [out, in] = xavier_uniform()}):
 * the initialisations of PyTorch's {@code nn.init} that the reference models use, and DiT's fixed
 * 2-D sin-cos position table.
 */
public sealed interface WeightInit {
    /** Fills {@code t} (row-major f32 on the host), drawing from {@code random} where it draws. */
    void fill(Tensor t, RandomStream random, Backend backend);

    /** All zeros (a bias; DiT's adaLN-Zero modulation and final layer). */
    record Zeros() implements WeightInit {
        public void fill(Tensor t, RandomStream random, Backend backend) {
            t.copyFrom(Tensor.zeros(org.tessera.engine.tensor.DType.F32, t.shape()));
        }
    }

    /** All ones (a norm's scale). */
    record Ones() implements WeightInit {
        public void fill(Tensor t, RandomStream random, Backend backend) {
            new Constant(1).fill(t, random, backend);
        }
    }

    /** Every element {@code value}, as {@code nn.init.constant_(w, value)} (Video LDM's mixing factor α). */
    record Constant(double value) implements WeightInit {
        public void fill(Tensor t, RandomStream random, Backend backend) {
            float[] v = new float[(int) t.numel()];
            java.util.Arrays.fill(v, (float) value);
            t.copyFrom(Tensor.of(v, t.shape()));
        }
    }

    /** N(0, std²), as {@code nn.init.normal_(w, std=std)}. */
    record Normal(double std) implements WeightInit {
        public void fill(Tensor t, RandomStream random, Backend backend) {
            random.fillNormal(t, backend.pool());
            backend.elementwise().axpby((float) std, t, 0f, t, t);
        }
    }

    /**
     * U(−a, a) with a = √(6 / (fan_in + fan_out)), as {@code nn.init.xavier_uniform_}: for a
     * weight [out, in, k…] fan_in = in·∏k and fan_out = out·∏k; with {@code flatten}, the weight
     * is taken as [out, in·∏k] first (fan_out = out), as DiT initialises its patch embedding.
     */
    record XavierUniform(boolean flatten) implements WeightInit {
        public void fill(Tensor t, RandomStream random, Backend backend) {
            int[] s = t.shape();
            if (s.length < 2) {
                throw new IllegalArgumentException(
                        "xavier_uniform needs a weight of rank 2 or more, got " + Shapes.toString(s));
            }
            long receptive = 1;
            for (int i = 2; i < s.length; i++) {
                receptive *= s[i];
            }
            double fanIn = (double) s[1] * receptive;
            double fanOut = flatten ? s[0] : (double) s[0] * receptive;
            double a = Math.sqrt(6.0 / (fanIn + fanOut));
            random.fillUniform(t, backend.pool()); // U[0, 1)
            backend.elementwise().axpby((float) (2 * a), t, 0f, t, t);
            float[] v = t.toFloatArray();
            for (int i = 0; i < v.length; i++) {
                v[i] -= (float) a;
            }
            t.copyFrom(Tensor.of(v, s));
        }
    }

    /**
     * The fixed 2-D sin-cos position table of MAE and DiT ({@code get_2d_sincos_pos_embed}) for a
     * grid of gridH × gridW tokens, shaped as the weight ([1, gridH·gridW, D] or [gridH·gridW, D]).
     */
    record SinCos2d(int gridH, int gridW) implements WeightInit {
        public void fill(Tensor t, RandomStream random, Backend backend) {
            int d = t.size(-1);
            if (t.numel() != (long) gridH * gridW * d) {
                throw new IllegalArgumentException("sincos_2d(" + gridH + ", " + gridW + ") makes " + gridH * gridW
                        + " rows of " + d + ", not a weight " + Shapes.toString(t.shape()));
            }
            Tensor table = Tensor.zeros(org.tessera.engine.tensor.DType.F32, gridH * gridW, d);
            backend.tables().sinCos2d(gridH, gridW, table);
            t.copyFrom(table.reshape(t.shape()));
        }
    }

    /**
     * The fixed 1-D sin-cos table of MAE's {@code get_1d_sincos_pos_embed_from_grid} over positions
     * 0 … length − 1, shaped as the weight ([1, length, D] or [length, D]): row p is
     * [sin(p·ω₀), …, sin(p·ω_{D/2−1}), cos(p·ω₀), …] with ω_i = 10000^(−i/(D/2)), in double and
     * rounded once, as NumPy computes it. Latte's temporal table ({@code temp_embed}) is this one.
     */
    record SinCos1d(int length) implements WeightInit {
        public void fill(Tensor t, RandomStream random, Backend backend) {
            int d = t.size(-1);
            if (d % 2 != 0 || t.numel() != (long) length * d) {
                throw new IllegalArgumentException("sincos_1d(" + length + ") makes " + length
                        + " rows of an even width, not a weight " + Shapes.toString(t.shape()));
            }
            int half = d / 2;
            float[] v = new float[length * d];
            for (int p = 0; p < length; p++) {
                for (int i = 0; i < half; i++) {
                    double omega = 1.0 / Math.pow(10000, i / (d / 2.0));
                    v[p * d + i] = (float) Math.sin(p * omega);
                    v[p * d + half + i] = (float) Math.cos(p * omega);
                }
            }
            t.copyFrom(Tensor.of(v, t.shape()));
        }
    }
}
