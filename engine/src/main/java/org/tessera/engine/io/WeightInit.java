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
            float[] v = new float[(int) t.numel()];
            java.util.Arrays.fill(v, 1f);
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
}
