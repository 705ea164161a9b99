/*
 * w * 10^q -> the correctly rounded double, the Eisel-Lemire way (D. Lemire, "Number parsing at
 * a gigabyte per second", 2021): multiply the normalised w by a 128-bit approximation of 5^q
 * and read the double's 53 bits, its rounding bit and its exponent off the top of the product.
 *
 * Why the result is exact when this returns 1: T = ad_pow5[q] is 5^q * 2^k rounded down, so
 * |T - 5^q * 2^k| < 1, and the 128-bit value (hi:lo) = top 128 bits of w * T (both halves of T
 * used) is within 2 units of lo of the exact scaled product. Rounding to nearest only changes
 * where the exact value crosses a midpoint between two doubles; a product within 4 units of a
 * midpoint (either side, or on it: a tie) is refused, every other product rounds the same way
 * as the exact value. Subnormal results are refused too (rare; strtod handles them).
 */
#include <float.h>
#include <string.h>

#include "decode_number.h"
#include "decode_pow5.h"

#if defined(__SIZEOF_INT128__)
__extension__ typedef unsigned __int128 ad_u128;
#endif

/* a * b: returns the low 64 bits, *hi the high 64 bits. */
static uint64_t mul64(uint64_t a, uint64_t b, uint64_t *hi) {
#if defined(__SIZEOF_INT128__)
  ad_u128 r = (ad_u128)a * b;
  *hi = (uint64_t)(r >> 64);
  return (uint64_t)r;
#else
  uint64_t al = a & 0xFFFFFFFFu, ah = a >> 32, bl = b & 0xFFFFFFFFu, bh = b >> 32;
  uint64_t ll = al * bl, lh = al * bh, hl = ah * bl, hh = ah * bh;
  uint64_t mid = (ll >> 32) + (lh & 0xFFFFFFFFu) + (hl & 0xFFFFFFFFu);
  *hi = hh + (lh >> 32) + (hl >> 32) + (mid >> 32);
  return (mid << 32) | (ll & 0xFFFFFFFFu);
#endif
}

static int clz64(uint64_t x) { /* x != 0 */
#if defined(__GNUC__)
  return __builtin_clzll(x);
#else
  int n = 0;
  while (!(x & (UINT64_C(1) << 63))) {
    x <<= 1;
    n++;
  }
  return n;
#endif
}

/* floor(q * log2(10)) for |q| <= 400 (checked over the table's range by decode_pow5_gen.py). */
static int64_t floor_log2_pow10(int64_t q) {
  int64_t a = 217706 * q;
  return a >= 0 ? a / 65536 : -((-a + 65535) / 65536);
}

static double from_bits(uint64_t bits) {
  double v;
  memcpy(&v, &bits, sizeof v);
  return v;
}

int ad_decimal_to_double(uint64_t w, int64_t q, int neg, double *out) {
#if FLT_RADIX == 2 && DBL_MANT_DIG == 53 && DBL_MAX_EXP == 1024
  const uint64_t sign = neg ? UINT64_C(1) << 63 : 0, inf = UINT64_C(0x7FF) << 52;
  const uint64_t *t;
  uint64_t hi, lo, hi2, m, rest, restmax;
  int64_t e2;
  int lz, s;
  /* w < 2^64: below 10^-342 the value is under half the least subnormal; above 10^308 w >= 1
   * makes it overflow. */
  if (w == 0 || q < AD_POW5_QMIN) {
    *out = from_bits(sign);
    return 1;
  }
  if (q > AD_POW5_QMAX) {
    *out = from_bits(sign | inf);
    return 1;
  }
  lz = clz64(w);
  w <<= lz;
  t = ad_pow5[q - AD_POW5_QMIN];
  lo = mul64(w, t[0], &hi);
  (void)mul64(w, t[1], &hi2);
  lo += hi2;
  hi += lo < hi2; /* carry */
  /* hi >= 2^62: keep 54 bits (53 and the rounding bit) */
  s = 9 + (int)(hi >> 63);
  m = hi >> s;
  restmax = (UINT64_C(1) << s) - 1;
  rest = hi & restmax;
  if ((m & 1) && rest == 0 && lo < 4) return 0;                     /* at or just above */
  if (!(m & 1) && rest == restmax && lo > UINT64_MAX - 4) return 0; /* just below */
  e2 = floor_log2_pow10(q) + 1086 + (s - 9) - lz; /* biased exponent of m's top bit */
  if (e2 <= 0) return 0;                          /* subnormal or zero: strtod */
  m = (m + 1) >> 1; /* round half up: exact halves were refused above */
  if (m == UINT64_C(1) << 53) {
    m >>= 1;
    e2++;
  }
  if (e2 >= 0x7FF) {
    *out = from_bits(sign | inf);
    return 1;
  }
  *out = from_bits(sign | (uint64_t)e2 << 52 | (m & ((UINT64_C(1) << 52) - 1)));
  return 1;
#else
  (void)w;
  (void)q;
  (void)neg;
  (void)out;
  return 0;
#endif
}
