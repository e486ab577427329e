package org.tessera.engine.backend;

import org.tessera.engine.tensor.Tensor;

/** Sinusoidal tables: timestep embeddings and fixed sin-cos positions. */
public interface TableOps {

    /**
     * DiT / ADM timestep embedding: with half = dim/2 and fᵢ = maxPeriod^(−i/half),
     * {@code out[b] = [cos(t_b·f), sin(t_b·f)]} (cosines first; a zero column is appended when
     * dim is odd). t [B] may be any numeric dtype (fractional timesteps allowed); out [B, dim].
     */
    void timestepEmbedding(Tensor t, double maxPeriod, Tensor out);

    /**
     * 1-D sin-cos positions as in MAE / DiT: with ωᵢ = 10000^(−i/(dim/2)),
     * {@code out[l] = [sin(p_l·ω), cos(p_l·ω)]} (sines first). positions [L], out [L, dim], dim even.
     */
    void sinCos1d(Tensor positions, Tensor out);

    /**
     * DiT's fixed 2-D table for a gridH × gridW patch grid (row-major tokens): the first half of
     * each row is the 1-D table of the token's column index, the second half of its row index.
     * out [gridH·gridW, dim], dim divisible by 4.
     */
    void sinCos2d(int gridH, int gridW, Tensor out);
}
