package org.tessera.engine.reference;

import org.tessera.engine.backend.ConvOps;
import org.tessera.engine.backend.OpChecks;
import org.tessera.engine.tensor.Tensor;

/** Convolutions as direct nested loops in double (no im2col): the oracle for the GEMM lowering. */
public final class ScalarConv implements ConvOps {

    /** A reference with no state. */
    public ScalarConv() {}

    /** out[n, ty·(W/pw) + tx, d] = bias[d] + Σ_{c,ky,kx} w[d, c, ky, kx] · x[n, c, ty·ph + ky, tx·pw + kx]. */
    @Override
    public void patchEmbed2d(Tensor x, Tensor weight, Tensor bias, Tensor out) {
        OpChecks.patchEmbed("patchEmbed2d", x, weight, bias, out, 2);
        // A 2-D patch embedding is the 3-D one with a single frame and pt = 1.
        patchEmbed(x.unsqueeze(2), weight.unsqueeze(2), bias, out);
    }

    /** Like {@link #patchEmbed2d} over (t, y, x) tubelets, tokens ordered by time, row, column. */
    @Override
    public void patchEmbed3d(Tensor x, Tensor weight, Tensor bias, Tensor out) {
        OpChecks.patchEmbed("patchEmbed3d", x, weight, bias, out, 3);
        patchEmbed(x, weight, bias, out);
    }

    private static void patchEmbed(Tensor x, Tensor weight, Tensor bias, Tensor out) {
        int n = x.size(0);
        int c = x.size(1);
        int t = x.size(2);
        int h = x.size(3);
        int w = x.size(4);
        int d = weight.size(0);
        int pt = weight.size(2);
        int ph = weight.size(3);
        int pw = weight.size(4);
        int nt = t / pt;
        int nh = h / ph;
        int nw = w / pw;
        double[] xv = x.toDoubleArray();
        double[] wv = weight.toDoubleArray();
        double[] bv = bias == null ? null : bias.toDoubleArray();
        double[] r = new double[n * nt * nh * nw * d];
        int token = 0;
        for (int b = 0; b < n; b++) {
            for (int tt = 0; tt < nt; tt++) {
                for (int ty = 0; ty < nh; ty++) {
                    for (int tx = 0; tx < nw; tx++, token++) {
                        for (int o = 0; o < d; o++) {
                            double acc = bv == null ? 0 : bv[o];
                            for (int ch = 0; ch < c; ch++) {
                                for (int kt = 0; kt < pt; kt++) {
                                    for (int ky = 0; ky < ph; ky++) {
                                        for (int kx = 0; kx < pw; kx++) {
                                            int xi = (((b * c + ch) * t + tt * pt + kt) * h + ty * ph + ky) * w
                                                    + tx * pw
                                                    + kx;
                                            int wi = (((o * c + ch) * pt + kt) * ph + ky) * pw + kx;
                                            acc += wv[wi] * xv[xi];
                                        }
                                    }
                                }
                            }
                            r[token * d + o] = acc;
                        }
                    }
                }
            }
        }
        RefArrays.write(out, r);
    }

    /** out[n, o, y, x] = bias[o] + Σ_{c,ky,kx} w[o, c, ky, kx] · x[n, c, y·s − pad + ky, x·s − pad + kx] (0 outside). */
    @Override
    public void conv2d(Tensor x, Tensor weight, Tensor bias, int stride, int padding, Tensor out) {
        OpChecks.conv2d(x, weight, bias, stride, padding, out);
        int n = x.size(0);
        int c = x.size(1);
        int h = x.size(2);
        int w = x.size(3);
        int oc = weight.size(0);
        int kh = weight.size(2);
        int kw = weight.size(3);
        int ho = out.size(2);
        int wo = out.size(3);
        double[] xv = x.toDoubleArray();
        double[] wv = weight.toDoubleArray();
        double[] bv = bias == null ? null : bias.toDoubleArray();
        double[] r = new double[n * oc * ho * wo];
        for (int b = 0; b < n; b++) {
            for (int o = 0; o < oc; o++) {
                for (int y = 0; y < ho; y++) {
                    for (int xo = 0; xo < wo; xo++) {
                        double acc = bv == null ? 0 : bv[o];
                        for (int ch = 0; ch < c; ch++) {
                            for (int ky = 0; ky < kh; ky++) {
                                int iy = y * stride - padding + ky;
                                if (iy < 0 || iy >= h) {
                                    continue;
                                }
                                for (int kx = 0; kx < kw; kx++) {
                                    int ix = xo * stride - padding + kx;
                                    if (ix >= 0 && ix < w) {
                                        acc += wv[((o * c + ch) * kh + ky) * kw + kx]
                                                * xv[((b * c + ch) * h + iy) * w + ix];
                                    }
                                }
                            }
                        }
                        r[((b * oc + o) * ho + y) * wo + xo] = acc;
                    }
                }
            }
        }
        RefArrays.write(out, r);
    }

    /** out[n, c, y, x] = x[n, c, y / f, x / f]. */
    @Override
    public void upsampleNearest2d(Tensor x, int factor, Tensor out) {
        OpChecks.upsampleNearest2d(x, factor, out);
        int planes = x.size(0) * x.size(1);
        int h = x.size(2);
        int w = x.size(3);
        int wo = w * factor;
        int ho = h * factor;
        double[] xv = x.toDoubleArray();
        double[] r = new double[planes * ho * wo];
        for (int p = 0; p < planes; p++) {
            for (int y = 0; y < ho; y++) {
                for (int xo = 0; xo < wo; xo++) {
                    r[(p * ho + y) * wo + xo] = xv[(p * h + y / factor) * w + xo / factor];
                }
            }
        }
        RefArrays.write(out, r);
    }
}
