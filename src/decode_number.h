/*
 * Decimal -> double for the decoder (decode_json.c): the part of number conversion that is not
 * parsing. The parser hands over the decimal significand it read exactly (at most 19 digits) and
 * the decimal exponent; anything this cannot decide goes to strtod.
 */
#ifndef ACEDATA_DECODE_NUMBER_H
#define ACEDATA_DECODE_NUMBER_H

#include <stdint.h>

/*
 * Sets *out to the double nearest to w * 10^q (ties to even), negated when neg, and returns 1;
 * returns 0 when it cannot tell cheaply (a subnormal result, a product too close to a halfway
 * point between two doubles, or a platform whose double is not IEEE binary64): the caller must
 * then convert the digits exactly (strtod). w may be anything below 2^64; q any exponent, huge
 * ones included (they give +-0.0 or +-inf).
 */
int ad_decimal_to_double(uint64_t w, int64_t q, int neg, double *out);

#endif
