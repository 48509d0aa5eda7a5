// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * The table of page encodings and what uses it (codec.h): the public
 * codec names and levels, the auto codec's ladder, the per-thread
 * contexts, page_encode() for the source's workers, page_apply() for the
 * destination's receivers, and the counters both keep.
 *
 * Every decoder is strict: the input must be exactly what the encoding
 * makes of one page, with nothing left over; anything else is refused
 * with a message, never half-applied.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "codec.h"

/* a compressed page must save an eighth, else it goes raw */
#define COMPRESS_LIMIT	(WIRE_PAGE_SIZE * 7 / 8)
/* auto: more distinct byte values in the sample than this = random */
#define AUTO_RANDOM	200

int codec_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EBADMSG;
}

static int zero_decode(void *priv, const uint8_t *in, uint32_t len,
		       uint8_t *page, char *err, size_t errlen)
{
	(void)priv, (void)in, (void)len, (void)err, (void)errlen;
	memset(page, 0, WIRE_PAGE_SIZE);
	return 0;
}

static int raw_decode(void *priv, const uint8_t *in, uint32_t len,
		      uint8_t *page, char *err, size_t errlen)
{
	(void)priv, (void)len, (void)err, (void)errlen;
	memcpy(page, in, WIRE_PAGE_SIZE);
	return 0;
}

/* on the page we have: checked in full before a byte is written */
static int xbzrle_decode(void *priv, const uint8_t *in, uint32_t len,
			 uint8_t *page, char *err, size_t errlen)
{
	(void)priv;
	return kvmig_xbzrle_decode(in, len, page, err, errlen);
}

static const struct codec_ops zero_ops = {
	.name = "zero", .wire = WIRE_ENC_ZERO, .codec = KVMIG_CODEC_NR,
	.decode = zero_decode,
};

static const struct codec_ops raw_ops = {
	.name = "raw", .wire = WIRE_ENC_RAW,
	/* what the codec "none" sends, and any page that does not compress */
	.codec = KVMIG_CODEC_NONE, .codec_name = "none",
	.decode = raw_decode,
};

/* a run of zero pages: the destination punches it whole, not page_apply() */
static const struct codec_ops zero_run_ops = {
	.name = "zero-run", .wire = WIRE_ENC_ZERO_RUN, .codec = KVMIG_CODEC_NR,
};

static const struct codec_ops xbzrle_ops = {
	.name = "xbzrle", .wire = WIRE_ENC_XBZRLE, .codec = KVMIG_CODEC_NR,
	.decode = xbzrle_decode,
};

/*
 * Every encoding, one row each.  The auto codec's ladder is the rows'
 * auto_levels in this order: cheapest first.
 */
static const struct codec_ops *const codecs[] = {
	&zero_ops,
	&zero_run_ops,
	&raw_ops,
	&xbzrle_ops,
	&codec_lz4_ops,
	&codec_zstd_ops,
	&codec_zlib_ops,
};
_Static_assert(ARRAY_SIZE(codecs) == WIRE_ENC_NR, "a row per wire encoding");

const struct codec_ops *codec_by_wire(unsigned int wire)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(codecs); i++)
		if (codecs[i]->wire == wire)
			return codecs[i];
	return NULL;
}

const struct codec_ops *codec_by_codec(enum kvmig_codec codec)
{
	unsigned int i;

	for (i = 0; codec < KVMIG_CODEC_NR && i < ARRAY_SIZE(codecs); i++)
		if (codecs[i]->codec == codec)
			return codecs[i];
	return NULL;
}

unsigned int codec_auto_steps(void)
{
	unsigned int i, n = 0;

	for (i = 0; i < ARRAY_SIZE(codecs); i++)
		n += codecs[i]->nr_auto;
	return n;
}

const struct codec_ops *codec_auto_step(unsigned int effort, int *level)
{
	unsigned int i;

	for (i = 0; effort && i < ARRAY_SIZE(codecs); i++) {
		if (effort <= codecs[i]->nr_auto) {
			*level = codecs[i]->auto_levels[effort - 1];
			return codecs[i];
		}
		effort -= codecs[i]->nr_auto;
	}
	return NULL;
}

uint32_t codec_auto_encodings(void)
{
	uint32_t bits = 0;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(codecs); i++)
		if (codecs[i]->nr_auto)
			bits |= 1U << codecs[i]->wire;
	return bits;
}

KVMIG_EXPORT const char *kvmig_codec_name(enum kvmig_codec codec)
{
	const struct codec_ops *o = codec_by_codec(codec);

	if (codec == KVMIG_CODEC_AUTO)
		return "auto";
	return o ? o->codec_name : NULL;
}

KVMIG_EXPORT int kvmig_codec_parse(const char *name, enum kvmig_codec *codec)
{
	unsigned int i;

	for (i = 0; name && i < KVMIG_CODEC_NR; i++)
		if (!strcmp(name, kvmig_codec_name(i))) {
			*codec = i;
			return 0;
		}
	return -EINVAL;
}

/* 0.2's name for kvmig_codec_parse(), kept for its callers */
KVMIG_EXPORT int kvmig_codec_from_name(const char *name)
{
	enum kvmig_codec codec;

	return kvmig_codec_parse(name, &codec) ?: (int)codec;
}

KVMIG_EXPORT int kvmig_codec_levels(enum kvmig_codec codec, int *min, int *max,
				    int *def)
{
	const struct codec_ops *o = codec_by_codec(codec);
	int lo = 0, hi = 0, d = 0;

	if (codec == KVMIG_CODEC_AUTO) {
		/* a level caps the ladder's effort: 1..steps, all by default */
		lo = 1;
		hi = d = (int)codec_auto_steps();
	} else if (o) {
		lo = o->min_level;
		hi = o->max_level;
		d = o->def_level;
	} else {
		return -EINVAL;
	}
	if (min)
		*min = lo;
	if (max)
		*max = hi;
	if (def)
		*def = d;
	return 0;
}

uint8_t codec_encoding(enum kvmig_codec codec)
{
	const struct codec_ops *o = codec_by_codec(codec);

	return o ? o->wire : WIRE_ENC_RAW;
}

enum kvmig_codec codec_of_encoding(uint8_t encoding)
{
	const struct codec_ops *o = codec_by_wire(encoding);

	return o && o->codec < KVMIG_CODEC_NR ? o->codec : KVMIG_CODEC_NONE;
}

int codec_default_level(enum kvmig_codec codec)
{
	int def = 0;

	kvmig_codec_levels(codec, NULL, NULL, &def);
	return def;
}

bool codec_level_ok(enum kvmig_codec codec, int level)
{
	int lo, hi;

	if (kvmig_codec_levels(codec, &lo, &hi, NULL))
		return false;
	return !level || (level >= lo && level <= hi);
}

void codec_ctx_init(struct codec_ctx *c)
{
	memset(c, 0, sizeof(*c));
}

void codec_ctx_fini(struct codec_ctx *c)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(codecs); i++)
		if (c->priv[codecs[i]->wire])
			codecs[i]->ctx_free(c->priv[codecs[i]->wire]);
	memset(c, 0, sizeof(*c));
}

/* Row @o's state in @c, made at its first use; -ENOMEM if that fails. */
static int ctx_get(struct codec_ctx *c, const struct codec_ops *o, void **priv)
{
	void **p = &c->priv[o->wire];

	if (!*p && o->ctx_new && !(*p = o->ctx_new()))
		return -ENOMEM;
	*priv = *p;
	return 0;
}

int codec_encode(struct codec_ctx *c, enum kvmig_codec codec, int level,
		 const uint8_t *page, uint8_t *out, uint32_t limit)
{
	const struct codec_ops *o = codec_by_codec(codec);
	void *priv;
	int r;

	if (limit > CODEC_OUT_MAX + 1)
		limit = CODEC_OUT_MAX + 1;
	if (!o || !o->encode || limit < 2)
		return 0;
	r = ctx_get(c, o, &priv);
	if (r)
		return r;
	r = o->encode(priv, level ?: o->def_level, page, out, limit);
	return r == -ENOSPC ? 0 : r;
}

int codec_decode(struct codec_ctx *c, uint8_t encoding, const uint8_t *in,
		 uint32_t len, uint8_t *page, char *err, size_t errlen)
{
	const struct codec_ops *o = codec_by_wire(encoding);
	void *priv;

	if (!len || len > CODEC_OUT_MAX)
		return codec_err(err, errlen, "%u bytes: a compressed page is "
				 "1..%u", len, CODEC_OUT_MAX);
	if (!o || !o->encode)
		return codec_err(err, errlen, "encoding %u is not a codec",
				 encoding);
	if (ctx_get(c, o, &priv))
		return codec_err(err, errlen, "%s: out of memory", o->name);
	return o->decode(priv, in, len, page, err, errlen);
}

unsigned int codec_distinct_bytes(const uint8_t *page)
{
	uint64_t seen[4] = { 0 };
	unsigned int i;

	for (i = 0; i < WIRE_PAGE_SIZE; i += 8)
		seen[page[i] >> 6] |= 1ULL << (page[i] & 63);
	return (unsigned int)(__builtin_popcountll(seen[0]) +
			      __builtin_popcountll(seen[1]) +
			      __builtin_popcountll(seen[2]) +
			      __builtin_popcountll(seen[3]));
}

/* ---------------------------------------------------------------- counters */

void page_stats_begin(struct kvmig_migration_stats *st)
{
	st->ram.duplicate = st->ram.normal = 0;
	st->pipeline.zero_pages = 0;
	memset(st->pipeline.codec, 0, sizeof(st->pipeline.codec));
	st->xbzrle.pages = st->xbzrle.bytes = 0;
	st->xbzrle.cache_miss = st->xbzrle.overflow = 0;
}

void page_stats_add(struct kvmig_migration_stats *st,
		    const struct page_counters *c, unsigned int i)
{
	unsigned int k;

	st->ram.duplicate += STAT_GET(c->zero);
	st->ram.normal += STAT_GET(c->normal);
	st->pipeline.zero_pages += STAT_GET(c->zero_found);
	st->worker_codec_ns[i] = 0;
	for (k = 0; k < KVMIG_CODEC_NR; k++) {
		struct kvmig_codec_stats *d = &st->pipeline.codec[k];
		const struct kvmig_codec_stats *s = &c->codec[k];

		st->worker_codec_ns[i] += STAT_GET(s->busy_ns);
		d->pages += STAT_GET(s->pages);
		d->compressed += STAT_GET(s->compressed);
		d->raw_bytes += STAT_GET(s->raw_bytes);
		d->wire_bytes += STAT_GET(s->wire_bytes);
		d->busy_ns += STAT_GET(s->busy_ns);
	}
	st->xbzrle.pages += STAT_GET(c->xb_pages);
	st->xbzrle.bytes += STAT_GET(c->xb_bytes);
	st->xbzrle.cache_miss += STAT_GET(c->xb_miss);
	st->xbzrle.overflow += STAT_GET(c->xb_overflow);
}

void page_stats_end(struct kvmig_migration_stats *st)
{
	/* every lookup is a hit that fit, a hit that overflowed or a miss */
	uint64_t lookups = st->xbzrle.pages + st->xbzrle.overflow +
			   st->xbzrle.cache_miss;

	st->ram.normal_bytes = st->ram.normal * WIRE_PAGE_SIZE;
	st->xbzrle.cache_miss_rate = lookups ? (double)st->xbzrle.cache_miss /
					       (double)lookups : 0;
	st->xbzrle.encoding_rate = st->xbzrle.bytes ?
				   (double)(st->xbzrle.pages * WIRE_PAGE_SIZE) /
				   (double)st->xbzrle.bytes : 0;
}

/* ---------------------------------------------------------------- source */

/*
 * A page with data through the codec @pol asks for (auto: a step of its
 * ladder, or raw for a page that looks random), raw if that does not pay.
 */
static int encode_data(struct page_enc *e, const struct page_policy *pol,
		       uint64_t index, const uint8_t *page, uint8_t *out,
		       uint32_t *len, char *err, size_t errlen)
{
	const struct codec_ops *o = codec_by_codec(pol->codec);
	struct kvmig_codec_stats *cs;
	int level = pol->level, n = -ENOSPC;

	if (pol->codec == KVMIG_CODEC_AUTO)
		o = codec_distinct_bytes(page) > AUTO_RANDOM ? &raw_ops :
		    codec_auto_step(pol->effort, &level);
	if (!o)
		o = &raw_ops;
	cs = &e->st.codec[o->codec];
	if (o->encode) {
		uint64_t t = kvmig_now_ns();
		void *priv;

		n = ctx_get(&e->ctx, o, &priv);
		if (!n)
			n = o->encode(priv, level ?: o->def_level, page, out,
				      COMPRESS_LIMIT);
		if (n < 0 && n != -ENOSPC) {
			snprintf(err, errlen, "%s: compressing page %llu: %s",
				 o->codec_name, (unsigned long long)index,
				 strerror(-n));
			return n;
		}
		STAT_ADD(cs->busy_ns, kvmig_now_ns() - t);
	}
	if (n > 0) {
		*len = (uint32_t)n;
	} else {
		*len = WIRE_PAGE_SIZE;
		memcpy(out, page, WIRE_PAGE_SIZE);
	}
	STAT_ADD(e->st.normal, 1);
	STAT_ADD(cs->pages, 1);
	STAT_ADD(cs->compressed, n > 0);
	STAT_ADD(cs->raw_bytes, WIRE_PAGE_SIZE);
	STAT_ADD(cs->wire_bytes, WIRE_PAGE_ENTRY_HDR + *len);
	return n > 0 ? o->wire : WIRE_ENC_RAW;
}

int page_encode(struct page_enc *e, const struct page_policy *pol,
		uint64_t index, const uint8_t *page, uint8_t *out,
		uint32_t *len, char *err, size_t errlen)
{
	const uint8_t *old;
	int n;

	if (page && e->xc) {
		/* the guest may write the page meanwhile: one copy */
		memcpy(e->snap, page, WIRE_PAGE_SIZE);
		page = e->snap;
	}
	if (!page || e->is_zero(page)) {
		STAT_ADD(e->st.zero, 1);
		if (page)
			STAT_ADD(e->st.zero_found, 1);
		if (e->xc)
			xcache_drop(e->xc, index);
		*len = 0;
		return WIRE_ENC_ZERO;
	}
	if (!e->xc)
		return encode_data(e, pol, index, page, out, len, err, errlen);
	/*
	 * XBZRLE first: if the cache has the version the destination holds
	 * and the difference is small enough, send that; else the codec.
	 * Either way the snapshot becomes the cached version.
	 */
	old = xcache_lookup(e->xc, index);
	if (old) {
		n = e->xbzrle(old, page, out, e->xb_limit);
		if (n >= 0) {
			STAT_ADD(e->st.normal, 1);
			STAT_ADD(e->st.xb_pages, 1);
			STAT_ADD(e->st.xb_bytes, (uint64_t)n);
			xcache_insert(e->xc, index, page);
			*len = (uint32_t)n;
			return WIRE_ENC_XBZRLE;
		}
		STAT_ADD(e->st.xb_overflow, 1);
	} else {
		STAT_ADD(e->st.xb_miss, 1);
	}
	n = encode_data(e, pol, index, page, out, len, err, errlen);
	if (n >= 0)
		xcache_insert(e->xc, index, page);
	return n;
}

/* ---------------------------------------------------------------- destination */

int page_apply(struct page_dec *d, const struct wire_page *pg, uint8_t *page,
	       char *err, size_t errlen)
{
	const struct codec_ops *o = codec_by_wire(pg->encoding);
	struct kvmig_codec_stats *cs;
	uint64_t t = 0;
	void *priv;
	int r;

	if (!o || !o->decode)
		return codec_err(err, errlen, "encoding %s is not one page",
				 o ? o->name : "unknown");
	if (ctx_get(&d->ctx, o, &priv))
		return codec_err(err, errlen, "%s: out of memory", o->name);
	if (o->bounce) {
		/* into the bounce page: a bad one never reaches the guest */
		t = kvmig_now_ns();
		r = o->decode(priv, pg->data, pg->len, d->bounce, err, errlen);
		if (r)
			return r;
		memcpy(page, d->bounce, WIRE_PAGE_SIZE);
	} else {
		r = o->decode(priv, pg->data, pg->len, page, err, errlen);
		if (r)
			return r;
	}
	if (o->wire == WIRE_ENC_ZERO) {
		STAT_ADD(d->st.zero, 1);
		return 0;
	}
	STAT_ADD(d->st.normal, 1);
	if (o->wire == WIRE_ENC_XBZRLE) {
		STAT_ADD(d->st.xb_pages, 1);
		STAT_ADD(d->st.xb_bytes, pg->len);
		return 0;
	}
	cs = &d->st.codec[o->codec];
	if (o->bounce) {
		STAT_ADD(cs->busy_ns, kvmig_now_ns() - t);
		STAT_ADD(cs->compressed, 1);
	}
	STAT_ADD(cs->pages, 1);
	STAT_ADD(cs->raw_bytes, WIRE_PAGE_SIZE);
	STAT_ADD(cs->wire_bytes, WIRE_PAGE_ENTRY_HDR + pg->len);
	return 0;
}
