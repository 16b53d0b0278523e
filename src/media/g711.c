/* G.711 µ-law and A-law, table-driven.
 *
 * The tables are built once from the ITU-T G.191 STL reference algorithm
 * (ulaw_compress/alaw_compress): µ-law sees 14 significant bits and A-law
 * 13, with one's-complement magnitudes for negative samples, so an index of
 * s >> 2 (µ) or s >> 3 (A) is exact. Encoding is one load per sample. */
#include "media_int.h"

static uint8_t ulaw_enc_tab[1 << 14];
static uint8_t alaw_enc_tab[1 << 13];
static int16_t ulaw_dec_tab[256];
static int16_t alaw_dec_tab[256];

/* ITU-T G.191 STL ulaw_compress for one sample. */
static uint8_t ulaw_ref_enc(int x)
{
	int absno = x < 0 ? ((~x) >> 2) + 33 : (x >> 2) + 33;
	if (absno > 0x1FFF)
		absno = 0x1FFF;
	int i = absno >> 6, segno = 1;
	while (i != 0) {
		segno++;
		i >>= 1;
	}
	int high = 0x0008 - segno;
	int low = 0x000F - ((absno >> segno) & 0x000F);
	int v = (high << 4) | low;
	if (x >= 0)
		v |= 0x80;
	return (uint8_t)v;
}

static int16_t ulaw_ref_dec(uint8_t u)
{
	int sign = u < 0x80 ? -1 : 1;
	int mant = ~u;
	int exponent = (mant >> 4) & 0x07;
	int segment = exponent + 1;
	mant &= 0x0F;
	int step = 4 << segment;
	return (int16_t)(sign * ((0x80 << exponent) + step * mant + step / 2 -
				 4 * 33));
}

/* ITU-T G.191 STL alaw_compress for one sample. */
static uint8_t alaw_ref_enc(int x)
{
	int ix = x < 0 ? (~x) >> 4 : x >> 4;
	if (ix > 15) {
		int iexp = 1;
		while (ix > 16 + 15) {
			ix >>= 1;
			iexp++;
		}
		ix -= 16;
		ix += iexp << 4;
	}
	if (x >= 0)
		ix |= 0x80;
	return (uint8_t)(ix ^ 0x55);
}

static int16_t alaw_ref_dec(uint8_t a)
{
	int ix = (a ^ 0x55) & 0x7F;
	int iexp = ix >> 4;
	int mant = ix & 0x0F;
	if (iexp > 0)
		mant += 16;
	mant = (mant << 4) + 0x08;
	if (iexp > 1)
		mant <<= (iexp - 1);
	return (int16_t)(a > 127 ? mant : -mant);
}

__attribute__((constructor)) static void g711_tables_init(void)
{
	for (int i = 0; i < (1 << 14); i++) {
		/* index = (s >> 2) & 0x3FFF; rebuild a sample with that top */
		int s = (int16_t)(uint16_t)(i << 2);
		ulaw_enc_tab[i] = ulaw_ref_enc(s);
	}
	for (int i = 0; i < (1 << 13); i++) {
		int s = (int16_t)(uint16_t)(i << 3);
		alaw_enc_tab[i] = alaw_ref_enc(s);
	}
	for (int i = 0; i < 256; i++) {
		ulaw_dec_tab[i] = ulaw_ref_dec((uint8_t)i);
		alaw_dec_tab[i] = alaw_ref_dec((uint8_t)i);
	}
}

uint8_t cv_g711_ulaw_enc(int16_t s)
{
	return ulaw_enc_tab[((uint16_t)s) >> 2];
}

int16_t cv_g711_ulaw_dec(uint8_t u)
{
	return ulaw_dec_tab[u];
}

uint8_t cv_g711_alaw_enc(int16_t s)
{
	return alaw_enc_tab[((uint16_t)s) >> 3];
}

int16_t cv_g711_alaw_dec(uint8_t a)
{
	return alaw_dec_tab[a];
}

void cv_g711_ulaw_enc_buf(uint8_t *out, const int16_t *in, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = ulaw_enc_tab[((uint16_t)in[i]) >> 2];
}

void cv_g711_ulaw_dec_buf(int16_t *out, const uint8_t *in, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = ulaw_dec_tab[in[i]];
}

void cv_g711_alaw_enc_buf(uint8_t *out, const int16_t *in, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = alaw_enc_tab[((uint16_t)in[i]) >> 3];
}

void cv_g711_alaw_dec_buf(int16_t *out, const uint8_t *in, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = alaw_dec_tab[in[i]];
}
