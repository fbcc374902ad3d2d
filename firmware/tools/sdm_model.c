/* A 1-bit sigma-delta modulator model for test PDM streams (host only, not firmware):
 * error-feedback form of a noise transfer function NTF = B(z)/A(z) (both monic, order <= 8),
 * signal transfer 1. Quantizer input
 *   u[n] = x[n] + sum_k b_k e[n-k] - sum_k a_k w[n-k],  v[n] = sign(u[n]),
 *   e[n] = v[n] - u[n] (quantization error),  w[n] = v[n] - x[n] (total error = NTF e),
 * so v = x + NTF e. The loop sees the same filter of v as a CIFB/CRFB realisation of this NTF.
 * Built with -ffp-contract=off: every operation is one IEEE double operation in this order,
 * so exporter/frontend/sdm.py's Python loop gives the same bits (tests/test_pdm.py). */
#include <stddef.h>
#include <stdint.h>

#define SDM_MAX_ORDER 8

/* Modulates n samples; state holds e[n-1..n-order] then w[n-1..n-order] and is updated.
 * Returns -1, or the index of the first sample where |u| exceeded limit (the loop went
 * unstable: the stream is cut there and the state is left as it was at that sample). */
long sdm_run(const double *x, size_t n, int order, const double *b, const double *a, double *state,
             uint8_t *bits, double limit) {
  double e[SDM_MAX_ORDER], w[SDM_MAX_ORDER];
  if (order < 1 || order > SDM_MAX_ORDER) return 0;
  for (int k = 0; k < order; k++) {
    e[k] = state[k];
    w[k] = state[order + k];
  }
  long bad = -1;
  for (size_t i = 0; i < n; i++) {
    double u = x[i];
    for (int k = 0; k < order; k++) {
      u += b[k + 1] * e[k];
      u -= a[k + 1] * w[k];
    }
    if (u > limit || u < -limit) {
      bad = (long)i;
      break;
    }
    double v = u >= 0.0 ? 1.0 : -1.0;
    for (int k = order - 1; k > 0; k--) {
      e[k] = e[k - 1];
      w[k] = w[k - 1];
    }
    e[0] = v - u;
    w[0] = v - x[i];
    bits[i] = v > 0.0;
  }
  for (int k = 0; k < order; k++) {
    state[k] = e[k];
    state[order + k] = w[k];
  }
  return bad;
}
