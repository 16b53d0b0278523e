/* Base64 (RFC 4648 §4) and base64url (§5), for SDES keys (RFC 4568 uses
 * the standard alphabet with padding) and flow tokens (URL-safe, no
 * padding, so that a token is made of URI-unreserved characters). */
#include <string.h>

#include "cvoip/base.h"

static const char std_abc[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char url_abc[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int val(char c, bool url)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == (url ? '-' : '+'))
		return 62;
	if (c == (url ? '_' : '/'))
		return 63;
	return -1;
}

size_t cv_base64_enclen(size_t len, enum cv_base64 kind)
{
	if (kind == CV_BASE64_URL)
		return (len * 8 + 5) / 6;
	return (len + 2) / 3 * 4;
}

int cv_base64_encode(const void *in, size_t len, char *out, size_t size,
		     enum cv_base64 kind)
{
	const uint8_t *p = in;
	bool url = kind == CV_BASE64_URL;
	const char *abc = url ? url_abc : std_abc;
	size_t need = cv_base64_enclen(len, kind);
	if (need >= size)
		return CV_ETOOBIG;
	size_t o = 0;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < len)
			v |= p[i + 2];
		out[o++] = abc[(v >> 18) & 63];
		out[o++] = abc[(v >> 12) & 63];
		if (i + 1 < len)
			out[o++] = abc[(v >> 6) & 63];
		else if (!url)
			out[o++] = '=';
		if (i + 2 < len)
			out[o++] = abc[v & 63];
		else if (!url)
			out[o++] = '=';
	}
	out[o] = '\0';
	return (int)o;
}

int cv_base64_decode(struct cv_pl in, uint8_t *out, size_t size, size_t *outlen,
		     enum cv_base64 kind)
{
	bool url = kind == CV_BASE64_URL, mime = kind == CV_BASE64_MIME;
	uint32_t acc = 0;
	unsigned bits = 0, q = 0; /* q: characters of the current quantum */
	size_t n = 0, pad = 0;
	for (size_t i = 0; i < in.l; i++) {
		char c = in.p[i];
		if (mime && (c == '\r' || c == '\n' || c == ' ' || c == '\t'))
			continue;
		if (c == '=' && !url) {
			/* MIME: "xx==" or "xxx=", never '=' early in a quantum
			 */
			if (mime && q + pad < 2)
				return CV_EPARSE;
			pad++;
			continue;
		}
		if (pad)
			return CV_EPARSE; /* data after padding */
		int v = val(c, url);
		if (v < 0)
			return CV_EPARSE;
		acc = (acc << 6) | (uint32_t)v;
		q = (q + 1) & 3;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (n >= size)
				return CV_EPARSE;
			out[n++] = (uint8_t)(acc >> bits);
		}
	}
	if (pad > 2)
		return CV_EPARSE;
	/* MIME: a partial quantum is refused (a lenient decoder would read
	 * other content than a strict one) */
	if (mime && (pad ? q + pad != 4 : q != 0))
		return CV_EPARSE;
	/* base64url has no padding to say where the data ends: leftover bits
	 * must be zero, so that each byte string has one encoding. */
	if (url && (acc & ((1u << bits) - 1)))
		return CV_EPARSE;
	*outlen = n;
	return 0;
}
