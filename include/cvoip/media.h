/*
 * cvoip media: codecs, packet-loss concealment, comfort noise, resampling,
 * audio sources and sinks (files, tones, DTMF), in-band DTMF detection,
 * RFC 4733 telephone-event timing, a mixer/bridge and the media stream that
 * ties an RTP session to a codec on a worker's loop.
 *
 * Threading: every object here belongs to the worker that created it and is
 * used from that worker only (ARCHITECTURE.md "Threads and ownership"). The
 * codec table and registry are immutable and may be read from any thread.
 *
 * PCM everywhere is signed 16-bit, host order, mono, at the rate a function
 * is told (codec PCM rate, file rate, mixer rate).
 */
#ifndef CVOIP_MEDIA_H
#define CVOIP_MEDIA_H

#include "cvoip/base.h"
#include "cvoip/rtp.h"
#include "cvoip/sdp.h"

#include <sys/socket.h>
#include <uv.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ======================================================================
 * Codecs
 * ====================================================================== */

/* Largest decoded frame we ever produce: 120 ms at 48 kHz (Opus maximum). */
#define CV_CODEC_MAX_SAMPLES 5760
/* Largest encoded payload we ever produce for one packet. */
#define CV_CODEC_MAX_PAYLOAD 1500

/* Negotiated or configured options for one encoder/decoder. Zero means
 * "the codec's default". Filled from fmtp with cv_codec_fmtp_parse(). */
struct cv_codec_params {
	uint32_t ptime;		  /* packet duration, ms (default 20) */
	uint32_t bitrate;	  /* Opus target bit/s (default 32000 wb) */
	uint32_t maxplaybackrate; /* Opus, RFC 7587 §6.1 (Hz) */
	uint32_t maxcapturerate;  /* Opus sprop-maxcapturerate */
	uint32_t pcm_rate;	  /* Opus: PCM rate at our side, 8000..48000 */
	uint8_t loss_pct;	  /* Opus: expected loss, tunes in-band FEC */
	bool useinbandfec;	  /* Opus: the receiver wants in-band FEC */
	bool usedtx;		  /* Opus DTX */
	bool cbr;		  /* Opus constant bit rate */
	bool stereo;		  /* Opus: the receiver prefers stereo */
	bool annexb_off;	  /* G.729: annexb=no (RFC 4749 default yes) */
};

/* One codec: a small const table (as libre's struct aucodec). The function
 * pointers are implementation; callers use the cv_codec_* wrappers below. */
struct cv_codec {
	const char *name;    /* SDP encoding name, e.g. "PCMU", "opus" */
	uint32_t clock_rate; /* RTP/SDP clock rate (G.722: 8000, RFC 3551) */
	uint32_t pcm_rate;   /* default PCM rate at the codec (G.722: 16000) */
	uint8_t channels;    /* SDP channel count (Opus: 2, RFC 7587) */
	uint8_t static_pt;   /* RFC 3551 static payload type, or 255 */
	uint8_t default_pt;  /* payload type we offer */
	uint8_t frame_ms;    /* smallest frame: packets are multiples */
	uint16_t max_ptime;  /* largest ptime we send */
	bool vbr_payload;    /* size does not follow from duration (Opus) */
	bool inband_fec;     /* conceal() can recover from the next payload */
	/* Ie and Bpl for the G.107 E-model (G.113 Appendix I values). */
	uint8_t ie;
	uint8_t bpl;
	const char *fmtp; /* default fmtp we offer, or NULL */

	int (*enc_create)(void **st, const struct cv_codec_params *p,
			  uint32_t pcm_rate);
	/* Encode n samples (a multiple of frame_ms) into out. */
	int (*encode)(void *st, const int16_t *pcm, size_t n, uint8_t *out,
		      size_t outsize, size_t *outlen);
	void (*enc_destroy)(void *st);
	int (*dec_create)(void **st, const struct cv_codec_params *p,
			  uint32_t pcm_rate);
	/* Decode one payload; *n in: room in pcm, out: samples written. */
	int (*decode)(void *st, const uint8_t *in, size_t len, int16_t *pcm,
		      size_t *n);
	/* Codec-internal concealment of *n samples (NULL: generic PLC). The
	 * next payload, when known, lets Opus recover from in-band FEC. */
	int (*conceal)(void *st, const uint8_t *next, size_t next_len,
		       int16_t *pcm, size_t *n);
	void (*dec_destroy)(void *st);
	/* Duration in samples (PCM rate) of a payload without decoding it, or
	 * negative when it is malformed. */
	int (*payload_samples)(const uint8_t *in, size_t len,
			       uint32_t pcm_rate);
	int (*fmtp_parse)(struct cv_codec_params *p, struct cv_pl fmtp);
	int (*fmtp_print)(const struct cv_codec_params *p, char *buf,
			  size_t size);
};

/* Built-in codecs. */
CV_API extern const struct cv_codec cv_codec_pcmu;
CV_API extern const struct cv_codec cv_codec_pcma;
CV_API extern const struct cv_codec cv_codec_g722;
CV_API extern const struct cv_codec cv_codec_opus;
CV_API extern const struct cv_codec cv_codec_g729;
CV_API extern const struct cv_codec cv_codec_l16_8k;
CV_API extern const struct cv_codec cv_codec_l16_16k;
CV_API extern const struct cv_codec cv_codec_l16_48k;

/* Registry: every built-in codec, in our preference order. */
CV_API size_t cv_codec_count(void);
CV_API const struct cv_codec *cv_codec_at(size_t i);
/* Look up by SDP name (case-insensitive), clock rate and channels (0 for
 * rate or channels: any). NULL when not found. */
CV_API const struct cv_codec *
cv_codec_find(struct cv_pl name, uint32_t clock_rate, uint8_t channels);
/* Parse/print fmtp for this codec (codecs without fmtp accept anything and
 * print nothing). Unknown parameters are ignored (RFC 4566 §6). */
CV_API int cv_codec_fmtp_parse(const struct cv_codec *c,
			       struct cv_codec_params *p, struct cv_pl fmtp);
CV_API int cv_codec_fmtp_print(const struct cv_codec *c,
			       const struct cv_codec_params *p, char *buf,
			       size_t size);

struct cv_codec_enc;
struct cv_codec_dec;

/* pcm_rate 0: p->pcm_rate or the codec's default. Refcounted objects. */
CV_API int cv_codec_enc_create(struct cv_codec_enc **ep,
			       const struct cv_codec *c,
			       const struct cv_codec_params *p);
CV_API int cv_codec_dec_create(struct cv_codec_dec **dp,
			       const struct cv_codec *c,
			       const struct cv_codec_params *p);
CV_API uint32_t cv_codec_enc_rate(const struct cv_codec_enc *e);
CV_API uint32_t cv_codec_dec_rate(const struct cv_codec_dec *d);
CV_API const struct cv_codec *cv_codec_enc_codec(const struct cv_codec_enc *e);
CV_API const struct cv_codec *cv_codec_dec_codec(const struct cv_codec_dec *d);
/* Encode n samples (a multiple of the codec frame) into one payload. */
CV_API int cv_codec_encode(struct cv_codec_enc *e, const int16_t *pcm, size_t n,
			   uint8_t *out, size_t outsize, size_t *outlen);
/* Decode a payload from the network: bounded, never trusts its framing.
 * *n in: room in pcm (CV_CODEC_MAX_SAMPLES is always enough); out: samples.
 * CV_EPARSE for a payload the codec rejects. */
CV_API int cv_codec_decode(struct cv_codec_dec *d, const uint8_t *in,
			   size_t len, int16_t *pcm, size_t *n);
/* Conceal n lost samples: Opus PLC (or FEC from `next`), G.729 frame
 * erasure, otherwise ITU-T G.711 Appendix I style waveform substitution
 * (own implementation) fading to silence after 60 ms. */
CV_API int cv_codec_conceal(struct cv_codec_dec *d, const uint8_t *next,
			    size_t next_len, int16_t *pcm, size_t n);
/* Samples a payload decodes to, at the decoder's PCM rate. */
CV_API int cv_codec_dec_payload_samples(const struct cv_codec_dec *d,
					const uint8_t *in, size_t len);

/* G.711 primitives (table-driven; ITU-T G.711 bit patterns incl. the
 * even-bit inversion of A-law and the µ-law zero-trap free encoding). */
CV_API uint8_t cv_g711_ulaw_enc(int16_t s);
CV_API int16_t cv_g711_ulaw_dec(uint8_t u);
CV_API uint8_t cv_g711_alaw_enc(int16_t s);
CV_API int16_t cv_g711_alaw_dec(uint8_t a);
CV_API void cv_g711_ulaw_enc_buf(uint8_t *out, const int16_t *in, size_t n);
CV_API void cv_g711_ulaw_dec_buf(int16_t *out, const uint8_t *in, size_t n);
CV_API void cv_g711_alaw_enc_buf(uint8_t *out, const int16_t *in, size_t n);
CV_API void cv_g711_alaw_dec_buf(int16_t *out, const uint8_t *in, size_t n);

/* ---- codec list for SDP offers ----------------------------------------- */

/* One rtpmap/fmtp line the SDP offer builder can print. */
struct cv_media_fmt {
	char name[32];
	uint32_t clock_rate;
	uint8_t channels;
	uint8_t pt;
	char fmtp[128];
	const struct cv_codec *codec; /* NULL for telephone-event and CN */
};

struct cv_media_offer_params {
	/* Codec names in preference order ("PCMU", "opus", "G722", ...);
	 * NULL: every built-in codec. Unknown names: CV_ENOTFOUND. */
	const char *const *codecs;
	size_t ncodecs;
	bool telephone_event; /* add telephone-event per clock rate used */
	bool comfort_noise;   /* add CN/8000 (RFC 3389) when a 8 kHz codec is */
	struct cv_codec_params params; /* ptime, Opus options for the fmtp */
};

/* Fill out[] with the formats to offer; dynamic payload types are assigned
 * from 96 upward without collisions. *nout is the count. */
CV_API int cv_media_offer_fmts(const struct cv_media_offer_params *p,
			       struct cv_media_fmt *out, size_t max,
			       size_t *nout);

/* ======================================================================
 * Echo cancellation, noise suppression, AGC (speexdsp)
 * ====================================================================== */

/* Processing of the near-end (microphone, what is sent) against the
 * far-end (what the loudspeaker plays, i.e. what was received): speexdsp's
 * MDF acoustic echo canceller, then its preprocessor (noise suppression,
 * residual echo suppression, AGC). Works on 10 ms frames at one rate;
 * calls may pass any multiple of 10 ms (a remainder passes unprocessed).
 * Call playback with what is played, then capture with what was recorded
 * over the same time (a stream does both every tick). A capture of n
 * samples uses the latest n far-end samples as reference (older ones are
 * dropped: a lagging reference would put the echo before it); the echo
 * path delay must fit in echo_tail_ms. */
struct cv_aproc;

struct cv_aproc_params {
	uint32_t rate;	       /* 8000, 16000, 32000 or 48000 */
	uint32_t echo_tail_ms; /* 0: no echo cancellation; else 20..500 */
	bool denoise;	       /* noise suppression */
	int noise_suppress_db; /* attenuation of noise; 0: -15 dB */
	bool agc;	       /* automatic gain control */
	uint32_t agc_level;    /* AGC target (speexdsp units); 0: 8000 */
};

struct cv_aproc_stats {
	uint64_t frames;      /* near-end frames processed */
	uint64_t far_missing; /* frames processed without far-end audio */
	uint64_t far_dropped; /* far-end samples never used as reference */
	double in_energy, out_energy; /* sum of squares, near-end in / out */
};

CV_API int cv_aproc_create(struct cv_aproc **ap,
			   const struct cv_aproc_params *p);
/* Far-end audio as it is played (n samples at the processor's rate). */
CV_API void cv_aproc_playback(struct cv_aproc *ap, const int16_t *pcm,
			      size_t n);
/* Near-end audio as captured; processed in place. */
CV_API int cv_aproc_capture(struct cv_aproc *ap, int16_t *pcm, size_t n);
CV_API uint32_t cv_aproc_rate(const struct cv_aproc *ap);
CV_API void cv_aproc_stats(const struct cv_aproc *ap,
			   struct cv_aproc_stats *out);

/* ======================================================================
 * Packet-loss concealment and comfort noise
 * ====================================================================== */

/* Generic PLC (ITU-T G.711 Appendix I style, any rate 8-48 kHz): feed
 * every good frame through cv_plc_rx(), ask cv_plc_fill() for lost ones. */
struct cv_plc;
CV_API int cv_plc_create(struct cv_plc **pp, uint32_t rate);
CV_API void cv_plc_rx(struct cv_plc *p, int16_t *pcm, size_t n);
CV_API void cv_plc_fill(struct cv_plc *p, int16_t *pcm, size_t n);

/* RFC 3389 comfort noise. The payload carries the noise level (-dBov) and
 * optionally reflection coefficients; we send level only (spectrally flat)
 * and accept coefficients from peers but render flat noise. */
#define CV_CN_PT 13
/* Level of a frame in -dBov (0..127), RFC 3389 §3. */
CV_API uint8_t cv_cn_level(const int16_t *pcm, size_t n);
/* Write a CN payload for this frame's level: 1 byte. */
CV_API int cv_cn_encode(const int16_t *pcm, size_t n, uint8_t *out,
			size_t outsize, size_t *outlen);
struct cv_cn_dec {
	uint8_t level; /* -dBov */
	bool valid;
	uint32_t seed;
};
CV_API void cv_cn_dec_init(struct cv_cn_dec *c);
/* Accept a CN payload (CV_EPARSE if empty or the level byte is > 127). */
CV_API int cv_cn_dec_update(struct cv_cn_dec *c, const uint8_t *in, size_t len);
/* Generate n samples of noise at the last level (silence before any). */
CV_API void cv_cn_dec_generate(struct cv_cn_dec *c, int16_t *pcm, size_t n);

/* ======================================================================
 * Resampling (speexdsp)
 * ====================================================================== */
struct cv_resampler;
/* quality 0..10 (speex); 3 is a good VoIP default. */
CV_API int cv_resampler_create(struct cv_resampler **rp, uint32_t in_rate,
			       uint32_t out_rate, int quality);
/* Converts all of in (n samples); writes at most outmax samples, *outn the
 * count. Output length follows the rate ratio with carried fraction. */
CV_API int cv_resampler_process(struct cv_resampler *r, const int16_t *in,
				size_t n, int16_t *out, size_t outmax,
				size_t *outn);
CV_API uint32_t cv_resampler_in_rate(const struct cv_resampler *r);
CV_API uint32_t cv_resampler_out_rate(const struct cv_resampler *r);

/* ======================================================================
 * Audio sources and sinks
 * ====================================================================== */

/* A source produces PCM at whatever rate the reader asks for. */
struct cv_asrc;
struct cv_asrc_ops {
	/* Fill n samples at `rate`; return the samples of real content
	 * (the rest is padded with silence by the caller), 0 when done,
	 * or a negative error. */
	int (*read)(void *arg, int16_t *pcm, size_t n, uint32_t rate);
	void (*destroy)(void *arg);
};
CV_API int cv_asrc_create(struct cv_asrc **sp, const struct cv_asrc_ops *ops,
			  void *arg);
/* Reads n samples at rate; pads with silence. Returns the count of real
 * samples (0 once the source is done, e.g. end of a non-looping file). */
CV_API int cv_asrc_read(struct cv_asrc *s, int16_t *pcm, size_t n,
			uint32_t rate);
CV_API bool cv_asrc_done(const struct cv_asrc *s);

/* File via libsndfile (WAV, AU, FLAC, OGG, ... anything it reads), mixed
 * to mono and resampled to the reader's rate. */
CV_API int cv_asrc_file(struct cv_asrc **sp, const char *path, bool loop);
CV_API int cv_asrc_silence(struct cv_asrc **sp);

/* Tone: one or two frequencies, level in dBm0 (0 dBm0 = a sine 3.14 dB
 * below full scale, as G.711), with an optional cadence. */
struct cv_tone_params {
	double freq1;	   /* Hz */
	double freq2;	   /* Hz, 0 for a single tone */
	double level_dbm0; /* per frequency, e.g. -10 */
	uint32_t on_ms;	   /* 0: continuous */
	uint32_t off_ms;
	uint32_t duration_ms; /* 0: forever */
};
CV_API int cv_asrc_tone(struct cv_asrc **sp, const struct cv_tone_params *p);
/* DTMF digits 0-9 * # A-D (others: -EINVAL), Q.23 frequencies. */
CV_API int cv_asrc_dtmf(struct cv_asrc **sp, const char *digits, uint32_t on_ms,
			uint32_t off_ms, double level_dbm0);
/* Low/high frequencies of a DTMF digit; -EINVAL for an unknown digit. */
CV_API int cv_dtmf_freqs(char digit, double *lo, double *hi);

/* A sink consumes PCM at the writer's rate. */
struct cv_asink;
struct cv_asink_ops {
	int (*write)(void *arg, const int16_t *pcm, size_t n, uint32_t rate);
	void (*destroy)(void *arg);
};
CV_API int cv_asink_create(struct cv_asink **kp, const struct cv_asink_ops *ops,
			   void *arg);
CV_API int cv_asink_write(struct cv_asink *k, const int16_t *pcm, size_t n,
			  uint32_t rate);
CV_API int cv_asink_null(struct cv_asink **kp);

/* File writer: mono 16-bit at file_rate (input resampled as needed), type
 * from the extension (.wav, .au, .flac, .raw=headerless). The header is
 * rewritten after every write (SFC_SET_UPDATE_HEADER_AUTO), so the file is
 * valid even if the process dies; unref or cv_asink_close() finishes it. */
CV_API int cv_asink_file(struct cv_asink **kp, const char *path,
			 uint32_t file_rate);
/* Finish a file sink now (further writes fail with CV_ECLOSED). */
CV_API int cv_asink_close(struct cv_asink *k);

/* ---- sound device (ALSA) ------------------------------------------------
 * A capture and/or playback PCM run by their own threads (one per
 * direction, non-blocking PCM with snd_pcm_wait so a stop is seen within
 * 100 ms), joined to the owning loop by bounded rings: the loop never
 * waits for the device. The device runs at one rate (8000, 16000 or 48000,
 * or the nearest the hardware offers); readers and writers at other rates
 * are resampled (speexdsp). Capture overruns and playback underruns are
 * recovered with snd_pcm_recover() and counted; a full capture ring drops
 * its oldest audio, a short playback ring plays a period of silence. A
 * PCM that is not clocked by hardware (ALSA's null/file plugins) is paced
 * by the monotonic clock so it runs in real time. */
struct cv_adev;

struct cv_adev_params {
	const char *name;   /* ALSA PCM name; NULL: "default" */
	uint32_t rate;	    /* 8000, 16000 or 48000; 0: 48000 */
	uint32_t period_ms; /* 5..100; 0: 20 */
	uint32_t ring_ms;   /* each ring, 2 periods..2000; 0: 200 */
	bool capture;	    /* open the microphone */
	bool playback;	    /* open the loudspeaker */
};

struct cv_adev_stats {
	uint32_t rate;		   /* the device's actual rate */
	uint32_t period_frames;	   /* the device's actual period */
	uint64_t captured;	   /* frames read from the device */
	uint64_t played;	   /* frames written to the device */
	uint64_t capture_xruns;	   /* overruns recovered (snd_pcm_recover) */
	uint64_t playback_xruns;   /* underruns recovered */
	uint64_t capture_dropped;  /* frames lost to a full capture ring */
	uint64_t playback_dropped; /* frames lost to a full playback ring */
	uint64_t playback_silence; /* frames of silence for a short ring */
	uint64_t errors;	   /* unrecoverable read/write errors */
};

/* Opens the PCMs and starts their threads. The ALSA error (negative errno)
 * when a PCM cannot be opened or configured; *why (if not NULL) gets a
 * one-line reason. */
CV_API int cv_adev_open(struct cv_adev **dp, const struct cv_adev_params *p,
			char *why, size_t size);
/* The microphone as a source (never "done"; silence while the ring is
 * empty) and the loudspeaker as a sink; both hold a reference to the
 * device, whose threads stop with its last reference. CV_EUNSUPP for a
 * direction that was not opened. */
CV_API int cv_adev_source(struct cv_adev *d, struct cv_asrc **sp);
CV_API int cv_adev_sink(struct cv_adev *d, struct cv_asink **kp);
CV_API void cv_adev_stats(const struct cv_adev *d, struct cv_adev_stats *out);

/* ======================================================================
 * DTMF: in-band detection (spandsp dtmf_rx) and RFC 4733 timing
 * ====================================================================== */
typedef void(cv_dtmf_fn)(char digit, void *arg);
struct cv_dtmf_det;
CV_API int cv_dtmf_det_create(struct cv_dtmf_det **dp, cv_dtmf_fn *fn,
			      void *arg);
/* Feed PCM at any rate (resampled to 8 kHz for the detector). */
CV_API int cv_dtmf_det_feed(struct cv_dtmf_det *d, const int16_t *pcm, size_t n,
			    uint32_t rate);

/* RFC 4733 payload coding and digit mapping are in rtp.h
 * (cv_rtp_tevent_*); what follows is the timing logic of both ends. */

/* Sender (RFC 4733 §2.5.1): one event at a time; every packet of an event
 * carries the event's start timestamp, the first one the marker bit; the
 * duration grows each packet interval; the end packet goes 3 times (§2.5.1.4)
 * with the same duration; an event longer than 0xffff units is split
 * (§2.5.1.3, not needed for the durations we send). */
struct cv_te_tx {
	uint32_t clock_rate;
	uint32_t ptime_ms;
	uint8_t event;
	uint8_t volume;
	uint32_t duration_total; /* units the event lasts */
	uint32_t duration_sent;	 /* units covered so far */
	uint8_t end_left;	 /* end packets still to send */
	bool active;
	bool first;
};
CV_API void cv_te_tx_init(struct cv_te_tx *t, uint32_t clock_rate,
			  uint32_t ptime_ms);
/* Start a digit of duration_ms (min 40 ms); CV_EFULL if one is running. */
CV_API int cv_te_tx_start(struct cv_te_tx *t, char digit, uint32_t duration_ms,
			  uint8_t volume);
CV_API bool cv_te_tx_busy(const struct cv_te_tx *t);
/* Next packet to send this ptime, or CV_ENOTFOUND when idle. *marker is
 * true on the first packet; *new_ts on the first packet tells the caller to
 * take a fresh RTP timestamp for this event (kept for the rest). */
CV_API int cv_te_tx_next(struct cv_te_tx *t, struct cv_rtp_tevent *e,
			 bool *marker, bool *new_ts);

/* Receiver (RFC 4733 §2.5.2): reports each event once, however many
 * packets (repeated end packets, retransmits) carry it. Events are keyed
 * by RTP timestamp; an event with no packet for `timeout_ms` ends. */
typedef void(cv_te_rx_fn)(char digit, bool end, uint32_t duration_ms,
			  void *arg);
struct cv_te_rx {
	uint32_t clock_rate;
	cv_te_rx_fn *fn;
	void *arg;
	uint32_t cur_ts;      /* timestamp of the event in progress */
	uint32_t last_end_ts; /* timestamp of the last ended event */
	uint64_t last_rx_us;
	uint16_t last_duration;
	uint8_t cur_event;
	bool in_event;
	bool have_end;
};
CV_API void cv_te_rx_init(struct cv_te_rx *r, uint32_t clock_rate,
			  cv_te_rx_fn *fn, void *arg);
CV_API int cv_te_rx_packet(struct cv_te_rx *r, uint32_t rtp_ts,
			   const uint8_t *payload, size_t len);
/* The same for an event already parsed (rtp session tevent handler). */
CV_API int cv_te_rx_event(struct cv_te_rx *r, uint32_t rtp_ts,
			  const struct cv_rtp_tevent *e);
/* Ends an event whose end packets were all lost (call every tick). */
CV_API void cv_te_rx_poll(struct cv_te_rx *r, uint32_t timeout_ms);

/* ======================================================================
 * Mixer / bridge
 * ====================================================================== */

/* A mixer joins ports; each port hears the sum of every other port's
 * input (clipped). Two ports make a 2-party bridge; the streams on each
 * port may use different codecs and rates (each port resamples to the
 * mixer rate), so bridging two streams transcodes. Mixing happens on
 * demand in 10 ms blocks when a port reads and its output runs short;
 * queues are bounded (oldest audio dropped past 100 ms). */
struct cv_mixer;
struct cv_mixer_port;
CV_API int cv_mixer_create(struct cv_mixer **mp, uint32_t rate);
/* A port holds a reference to its mixer; unref the port to leave. */
CV_API int cv_mixer_port_add(struct cv_mixer *m, struct cv_mixer_port **pp);
CV_API int cv_mixer_port_write(struct cv_mixer_port *p, const int16_t *pcm,
			       size_t n, uint32_t rate);
CV_API int cv_mixer_port_read(struct cv_mixer_port *p, int16_t *pcm, size_t n,
			      uint32_t rate);
CV_API size_t cv_mixer_ports(const struct cv_mixer *m);
/* A source/sink pair bound to a port, to plug into media streams. */
CV_API int cv_asrc_mixer(struct cv_asrc **sp, struct cv_mixer_port *p);
CV_API int cv_asink_mixer(struct cv_asink **kp, struct cv_mixer_port *p);

/* ======================================================================
 * Media stream: RTP session + jitter buffer + codec + source and sink
 * ====================================================================== */

/* What a call's session layer does with it:
 *   cv_media_stream_create()       binds the RTP port (for the SDP offer)
 *   cv_media_stream_start()        with the negotiated values
 *   cv_media_stream_start() again  on a re-INVITE (codec, remote, direction)
 *   cv_media_stream_destroy()      at the end of the call
 * Every ptime the stream's timer (on the owning loop) plays out the jitter
 * buffer into the sink and sends the source's next frame. */
struct cv_media_stream;

enum cv_media_dir {
	CV_MEDIA_SENDRECV = 0,
	CV_MEDIA_SENDONLY,
	CV_MEDIA_RECVONLY,
	CV_MEDIA_INACTIVE
};

/* A digit from the peer: RFC 4733 (inband false) or detected in the
 * decoded audio (inband true, end only). begin/end of RFC 4733 events are
 * reported once each. */
typedef void(cv_media_dtmf_fn)(struct cv_media_stream *ms, char digit, bool end,
			       uint32_t duration_ms, bool inband, void *arg);
/* The source ended (a non-looping file or a finite tone): once. */
typedef void(cv_media_source_done_fn)(struct cv_media_stream *ms, void *arg);

struct cv_media_stream_handlers {
	cv_media_dtmf_fn *dtmf;
	cv_media_source_done_fn *source_done;
};

struct cv_media_stream_params {
	uv_loop_t *loop;	     /* the owning worker's loop (required) */
	const char *local_addr;	     /* NULL: 0.0.0.0 */
	uint16_t port_min, port_max; /* 0/0: rtp's default range */
	bool rtcp_mux;
	bool rtcp_xr;	      /* send RFC 3611 VoIP metrics */
	uint32_t rtcp_min_ms; /* 0: 5000 */
	int tevent_pt;	      /* expected telephone-event pt, -1: unknown */
	uint32_t jb_min_ms, jb_max_ms, jb_init_ms; /* 0: rtp's defaults */
	bool detect_inband_dtmf; /* run the spandsp detector on decoded audio */
	const struct cv_media_stream_handlers *h;
	void *arg;
};

/* Negotiated values from the SDP offer/answer. */
struct cv_media_stream_cfg {
	const struct cv_codec *codec;  /* required */
	uint8_t pt;		       /* payload type of the codec */
	struct cv_codec_params params; /* from the peer's fmtp */
	uint32_t ptime; /* ms, multiple of the codec frame; 0: 20 */
	int tevent_pt;	/* -1: no RFC 4733 */
	int cn_pt;	/* -1: no RFC 3389 */
	bool send_cn;	/* replace silent frames by CN */
	enum cv_media_dir dir;
	/* Remote from SDP; AF_UNSPEC family: none yet (symmetric RTP
	 * latches to the first source). remote_rtcp AF_UNSPEC: derived. */
	struct sockaddr_storage remote;
	struct sockaddr_storage remote_rtcp;
	bool rtcp_mux;
	const struct cv_srtp_key *srtp_tx; /* NULL: plain RTP */
	const struct cv_srtp_key *srtp_rx;
};

/* The stream configuration for the first codec of a negotiated m-line
 * (RFC 3264: payload types, ptime, telephone-event and CN, the direction
 * this side takes, remote addresses, rtcp-mux, the peer's fmtp). The caller
 * adds SRTP keys and send_cn. 0, or CV_EUNSUPP for a codec we do not have
 * (or no codec). */
CV_API int cv_media_stream_cfg_from_neg(const struct cv_sdp_neg_media *m,
					struct cv_media_stream_cfg *cfg);

struct cv_media_stream_stats {
	struct cv_rtp_stats rtp;
	struct cv_rtp_jb_stats jb;
	uint64_t ticks;
	uint64_t frames_sent;
	uint64_t frames_decoded;
	uint64_t frames_concealed;
	/* of those, concealed with the next packet at hand (Opus in-band FEC;
	 * libopus uses its LBRR data, or plain PLC when it carries none) */
	uint64_t frames_fec;
	uint64_t decode_errors;
	uint64_t cn_sent;
	uint64_t cn_received;
	uint64_t dtmf_sent;
	uint64_t dtmf_received;
	uint64_t unknown_pt;
	uint64_t late_ticks; /* ticks run late by more than a ptime */
	struct cv_aproc_stats
		aproc; /* zero without cv_media_stream_set_aproc */
};

CV_API int cv_media_stream_create(struct cv_media_stream **msp,
				  const struct cv_media_stream_params *p);
/* Stops the timer and the RTP session; no handler fires afterwards. */
CV_API void cv_media_stream_destroy(struct cv_media_stream *ms);
/* Start or update (re-INVITE): changes of codec or pt rebuild the codec
 * state and reset the jitter buffer; remote, direction and keys apply to
 * the running stream. */
CV_API int cv_media_stream_start(struct cv_media_stream *ms,
				 const struct cv_media_stream_cfg *cfg);
/* Stops sending and playing out (the port stays bound). */
CV_API void cv_media_stream_stop(struct cv_media_stream *ms);
CV_API bool cv_media_stream_running(const struct cv_media_stream *ms);
/* The RTP session (local address, SRTP keys, RTCP). */
CV_API struct cv_rtp_session *cv_media_stream_rtp(struct cv_media_stream *ms);
CV_API uint16_t cv_media_stream_port(const struct cv_media_stream *ms);
/* Replace what is sent / where received audio goes (a reference is
 * taken; NULL: silence / discard). */
CV_API void cv_media_stream_set_source(struct cv_media_stream *ms,
				       struct cv_asrc *src);
CV_API void cv_media_stream_set_sink(struct cv_media_stream *ms,
				     struct cv_asink *sink);
/* Optional echo cancellation / noise suppression / AGC of what the stream
 * sends (its source is the near end), against what it plays out (the far
 * end, the sink's audio). p->rate 0: the codec's PCM rate (the processor
 * is re-created when a start changes the codec). NULL turns it off. */
CV_API int cv_media_stream_set_aproc(struct cv_media_stream *ms,
				     const struct cv_aproc_params *p);
/* Queue RFC 4733 digits (0-9 * # A-D, at most 32 queued), each lasting
 * duration_ms; CV_EUNSUPP without a negotiated telephone-event. */
CV_API int cv_media_stream_send_dtmf(struct cv_media_stream *ms,
				     const char *digits, uint32_t duration_ms);
CV_API int cv_media_stream_stats(const struct cv_media_stream *ms,
				 struct cv_media_stream_stats *out);
/* Run one tick now (tests and benchmarks with a fake clock). */
CV_API void cv_media_stream_tick(struct cv_media_stream *ms);

/* Joins a stream to a mixer: what its peer says goes in, the mix of the
 * others goes out (source and sink are replaced). */
CV_API int cv_media_stream_join(struct cv_media_stream *ms, struct cv_mixer *m);
/* 2-party bridge with transcoding: a mixer at the higher PCM rate of the
 * two codecs with both streams joined. Unbridge by setting other sources
 * and sinks (the mixer goes with its last port). */
CV_API int cv_media_stream_bridge(struct cv_media_stream *a,
				  struct cv_media_stream *b);

#ifdef __cplusplus
}
#endif

#endif
