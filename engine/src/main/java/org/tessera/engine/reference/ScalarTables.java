package org.tessera.engine.reference;

import org.tessera.engine.backend.OpChecks;
import org.tessera.engine.backend.TableOps;
import org.tessera.engine.tensor.Tensor;

/** The sinusoidal tables straight from their formulas, in double. */
public final class ScalarTables implements TableOps {

    /** A reference with no state. */
    public ScalarTables() {}

    /** out[b] = [cos(t_b·fᵢ), sin(t_b·fᵢ)] with fᵢ = maxPeriod^(−i/half), plus a zero column for odd dim. */
    @Override
    public void timestepEmbedding(Tensor t, double maxPeriod, Tensor out) {
        OpChecks.rank("timestepEmbedding", "t", t, 1);
        OpChecks.table("timestepEmbedding", out, t.size(0));
        int dim = out.size(1);
        int half = dim / 2;
        double[] ts = t.toDoubleArray();
        double[] r = new double[ts.length * dim];
        for (int b = 0; b < ts.length; b++) {
            for (int i = 0; i < half; i++) {
                double arg = ts[b] * Math.pow(maxPeriod, -(double) i / half);
                r[b * dim + i] = Math.cos(arg);
                r[b * dim + half + i] = Math.sin(arg);
            }
        }
        RefArrays.write(out, r);
    }

    /** out[l] = [sin(p_l·ωᵢ), cos(p_l·ωᵢ)] with ωᵢ = 10000^(−i/(dim/2)). */
    @Override
    public void sinCos1d(Tensor positions, Tensor out) {
        OpChecks.sinCos1d(positions, out);
        int dim = out.size(1);
        double[] p = positions.toDoubleArray();
        double[] r = new double[p.length * dim];
        for (int l = 0; l < p.length; l++) {
            fill1d(r, l * dim, dim, p[l]);
        }
        RefArrays.write(out, r);
    }

    /** Token (i, j) of the grid: [1-D(dim/2) of column j, 1-D(dim/2) of row i]. */
    @Override
    public void sinCos2d(int gridH, int gridW, Tensor out) {
        OpChecks.sinCos2d(gridH, gridW, out);
        int dim = out.size(1);
        double[] r = new double[gridH * gridW * dim];
        for (int i = 0; i < gridH; i++) {
            for (int j = 0; j < gridW; j++) {
                int o = (i * gridW + j) * dim;
                fill1d(r, o, dim / 2, j);
                fill1d(r, o + dim / 2, dim / 2, i);
            }
        }
        RefArrays.write(out, r);
    }

    private static void fill1d(double[] r, int o, int dim, double pos) {
        int half = dim / 2;
        for (int i = 0; i < half; i++) {
            double arg = pos * Math.pow(10000, -(double) i / half);
            r[o + i] = Math.sin(arg);
            r[o + half + i] = Math.cos(arg);
        }
    }
}
