/* RTP packets (RFC 3550 §5.1), RFC 4733 telephone events, demux rules. */
#include "rtp_int.h"

int cv_rtp_parse(struct cv_rtp_pkt *pkt, const uint8_t *buf, size_t len)
{
	if (!pkt || !buf || len < CV_RTP_HDR_LEN)
		return CV_EPARSE;
	memset(pkt, 0, sizeof(*pkt));
	struct cv_rtp_hdr *h = &pkt->hdr;
	if ((buf[0] >> 6) != CV_RTP_VERSION)
		return CV_EPARSE;
	bool padding = buf[0] & 0x20;
	h->ext = buf[0] & 0x10;
	h->cc = buf[0] & 0x0f;
	h->marker = buf[1] & 0x80;
	h->pt = buf[1] & 0x7f;
	h->seq = cv_get16(buf + 2);
	h->ts = cv_get32(buf + 4);
	h->ssrc = cv_get32(buf + 8);
	size_t off = CV_RTP_HDR_LEN;
	if (len < off + 4u * h->cc)
		return CV_EPARSE;
	for (unsigned i = 0; i < h->cc; i++, off += 4)
		h->csrc[i] = cv_get32(buf + off);
	if (h->ext) {
		/* RFC 3550 §5.3.1: 16-bit profile, 16-bit length in words. */
		if (len < off + 4)
			return CV_EPARSE;
		h->ext_profile = cv_get16(buf + off);
		size_t words = cv_get16(buf + off + 2);
		off += 4;
		if (len - off < words * 4)
			return CV_EPARSE;
		h->ext_data = buf + off;
		h->ext_len = words * 4;
		off += words * 4;
	}
	size_t end = len;
	if (padding) {
		/* The last octet counts the padding, itself included. */
		uint8_t pad = buf[len - 1];
		if (pad == 0 || pad > len - off)
			return CV_EPARSE;
		h->pad_len = pad;
		end -= pad;
	}
	pkt->payload = buf + off;
	pkt->payload_len = end - off;
	return 0;
}

size_t cv_rtp_hdr_len(const uint8_t *buf, size_t len)
{
	struct cv_rtp_pkt pkt;
	if (cv_rtp_parse(&pkt, buf, len))
		return 0;
	return (size_t)(pkt.payload - buf);
}

int cv_rtp_build(uint8_t *buf, size_t size, const struct cv_rtp_hdr *h,
		 const void *payload, size_t payload_len, size_t *outlen)
{
	if (!buf || !h || (payload_len && !payload))
		return -EINVAL;
	if (h->cc > CV_RTP_MAX_CSRC || h->pt > 127)
		return -EINVAL;
	if (h->ext && (h->ext_len % 4 || h->ext_len > 4u * 0xffff ||
		       (h->ext_len && !h->ext_data)))
		return -EINVAL;
	size_t need = CV_RTP_HDR_LEN + 4u * h->cc +
		      (h->ext ? 4 + h->ext_len : 0) + payload_len + h->pad_len;
	if (need > size)
		return CV_ETOOBIG;
	buf[0] = (uint8_t)((CV_RTP_VERSION << 6) | (h->pad_len ? 0x20 : 0) |
			   (h->ext ? 0x10 : 0) | h->cc);
	buf[1] = (uint8_t)((h->marker ? 0x80 : 0) | h->pt);
	cv_put16(buf + 2, h->seq);
	cv_put32(buf + 4, h->ts);
	cv_put32(buf + 8, h->ssrc);
	size_t off = CV_RTP_HDR_LEN;
	for (unsigned i = 0; i < h->cc; i++, off += 4)
		cv_put32(buf + off, h->csrc[i]);
	if (h->ext) {
		cv_put16(buf + off, h->ext_profile);
		cv_put16(buf + off + 2, (uint16_t)(h->ext_len / 4));
		off += 4;
		if (h->ext_len)
			memcpy(buf + off, h->ext_data, h->ext_len);
		off += h->ext_len;
	}
	if (payload_len)
		memmove(buf + off, payload, payload_len);
	off += payload_len;
	if (h->pad_len) {
		memset(buf + off, 0, h->pad_len - 1u);
		buf[off + h->pad_len - 1] = h->pad_len;
		off += h->pad_len;
	}
	if (outlen)
		*outlen = off;
	return 0;
}

bool cv_rtp_is_rtcp(const uint8_t *buf, size_t len)
{
	/* RFC 5761 §4: RTCP packet types 192..223 cannot be RTP PTs in use. */
	return len >= 2 && (buf[0] >> 6) == 2 && buf[1] >= 192 && buf[1] <= 223;
}

bool cv_rtp_is_rtp_or_rtcp(const uint8_t *buf, size_t len)
{
	return len >= 1 && buf[0] >= 128 && buf[0] <= 191;
}

/* ---- RFC 4733 §2.3 ------------------------------------------------------ */

int cv_rtp_tevent_parse(struct cv_rtp_tevent *ev, const uint8_t *p, size_t len)
{
	if (!ev || !p || len < CV_RTP_TEVENT_LEN)
		return CV_EPARSE;
	ev->event = p[0];
	ev->end = p[1] & 0x80;
	/* R bit (0x40) must be ignored by receivers. */
	ev->volume = p[1] & 0x3f;
	ev->duration = cv_get16(p + 2);
	return 0;
}

int cv_rtp_tevent_build(uint8_t *p, size_t size, const struct cv_rtp_tevent *ev)
{
	if (!p || !ev || ev->volume > 63)
		return -EINVAL;
	if (size < CV_RTP_TEVENT_LEN)
		return CV_ETOOBIG;
	p[0] = ev->event;
	p[1] = (uint8_t)((ev->end ? 0x80 : 0) | ev->volume);
	cv_put16(p + 2, ev->duration);
	return 0;
}

static const char tevent_chars[] = "0123456789*#ABCD";

int cv_rtp_tevent_from_char(char c, uint8_t *event)
{
	if (c >= 'a' && c <= 'd')
		c = (char)(c - 'a' + 'A');
	for (uint8_t i = 0; i < 16; i++) {
		if (tevent_chars[i] == c) {
			*event = i;
			return 0;
		}
	}
	return -EINVAL;
}

char cv_rtp_tevent_to_char(uint8_t event)
{
	return event < 16 ? tevent_chars[event] : '?';
}
