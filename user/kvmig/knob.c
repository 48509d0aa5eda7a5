// SPDX-License-Identifier: GPL-2.0
/*
 * The live knobs (knob.h).  A value comes in as an option's text or as
 * migrate-set-parameters' JSON; either way it becomes a uint64_t of its
 * kind (a count, bytes/s, 1 for on, an enum kvmig_codec, a level), and
 * valid() judges it by the kind's one rule.  What the rule refuses ends
 * kvmig set and kvmig migrate at their options (exit 2, naming the
 * option); the running kvmig migrate says it and keeps the value in force.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "knob.h"
#include "parse.h"

/*
 * offsetof(struct kvmig_tunables, @f), and a build error unless @f is the
 * @type that store() writes for the row's kind
 */
#define FIELD(f, type)							\
	(offsetof(struct kvmig_tunables, f) +				\
	 0 * sizeof(char[__builtin_types_compatible_p(			\
		__typeof__(((struct kvmig_tunables *)0)->f), type) ? 1 : -1]))

#define COUNT(opt, flag, key, lo, hi, unit, f)				\
	{ opt, flag, key, KNOB_COUNT, lo, hi, unit, FIELD(f, uint32_t) }
#define RATE(opt, flag, key, lo, hi, f)					\
	{ opt, flag, key, KNOB_RATE, lo, hi, "", FIELD(f, uint64_t) }
#define ON_OFF(opt, flag, key, f)					\
	{ opt, flag, key, KNOB_ON_OFF, 0, 1, "", FIELD(f, bool) }
#define CODEC(opt, flag, key, f)					\
	{ opt, flag, key, KNOB_CODEC, 0, KVMIG_CODEC_NR - 1, "",		\
	  FIELD(f, enum kvmig_codec) }
/* the range: each codec's, knob_level_range() */
#define LEVEL(opt, flag, key, f)					\
	{ opt, flag, key, KNOB_LEVEL, 0, 0, "", FIELD(f, int) }

/* In the order on_tune() applies them, and says what it ignores. */
static const struct knob knobs[] = {
	COUNT('w', "--workers", "workers", 1, 64, "", workers),
	COUNT('d', "--downtime-limit", "downtime-limit", 1, 3600000, " ms",
	      downtime_limit_ms),
	COUNT('I', "--throttle-initial", "cpu-throttle-initial", 1, 99, " %",
	      throttle_initial),
	COUNT('N', "--throttle-increment", "cpu-throttle-increment", 1, 99, " %",
	      throttle_increment),
	COUNT('M', "--throttle-max", "max-cpu-throttle", 1, 99, " %",
	      throttle_max),
	COUNT('O', "--io-stall", "io-stall", 1, 1000000, " us", io_stall_us),
	LEVEL('L', "--level", "level", level),
	/* a JSON integer in migrate-set-parameters and the statistics */
	RATE('b', "--max-bandwidth", "max-bandwidth", 0, INT64_MAX,
	     max_bandwidth),
	ON_OFF('A', "--io-aware", "io-aware", no_io_aware),
	CODEC('C', "--codec", "codec", codec),
};
#define NR_KNOBS	(sizeof(knobs) / sizeof(knobs[0]))

const struct knob *knob_of_opt(int opt)
{
	const struct knob *k;

	for (k = knobs; k < knobs + NR_KNOBS; k++)
		if (k->opt == opt)
			return k;
	return NULL;
}

/*
 * The levels @codec takes, as libkvmig's table of codecs says (false if
 * none).  @codec < 0: any codec's, from the lowest to the highest (kvmig
 * set without --codec, on_tune()).
 */
bool knob_level_range(int codec, int *lo, int *hi)
{
	int c, l, h;

	if (codec < 0) {
		*lo = INT_MAX;
		*hi = 0;
		for (c = 0; c < KVMIG_CODEC_NR; c++) {
			if (!knob_level_range(c, &l, &h))
				continue;
			*lo = l < *lo ? l : *lo;
			*hi = h > *hi ? h : *hi;
		}
		return *hi;
	}
	*lo = *hi = 0;
	kvmig_codec_levels((enum kvmig_codec)codec, lo, hi, NULL);
	return *hi;
}

/* The codecs' names, "none, zlib, ... or auto", from libkvmig's table. */
static const char *codec_names(void)
{
	static char buf[128];
	size_t n = 0;
	int c;

	for (c = 0; c < KVMIG_CODEC_NR && n < sizeof(buf); c++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%s",
				      !c ? "" : c + 1 < KVMIG_CODEC_NR ? ", " :
				      " or ", kvmig_codec_name((enum kvmig_codec)c));
	return buf;
}

/* @name's codec, or a value that is none (the rule then refuses it). */
static uint64_t codec_of_name(const char *name)
{
	enum kvmig_codec c;

	return kvmig_codec_parse(name, &c) ? UINT64_MAX : (uint64_t)c;
}

bool knob_level_ok(int codec, uint64_t level)
{
	int lo, hi;

	/* 0: the codec's default, which every codec has */
	return !level || (knob_level_range(codec, &lo, &hi) &&
			  level >= (uint64_t)lo && level <= (uint64_t)hi);
}

/*
 * The one rule of each kind, for @v as knob_parse() or from_json() made
 * it; @codec is the codec a level goes with, < 0 where it is not known.
 */
static bool valid(const struct knob *k, uint64_t v, int codec)
{
	switch (k->kind) {
	case KNOB_COUNT:
	case KNOB_RATE:
	case KNOB_ON_OFF:
	case KNOB_CODEC:
		return v >= k->lo && v <= k->hi;
	case KNOB_LEVEL:
		return knob_level_ok(codec, v);
	}
	return false;
}

uint64_t knob_parse(const struct knob *k, const char *arg)
{
	uint64_t v = 0;
	int lo, hi;

	/* a word that is not of the kind becomes a value the rule refuses */
	switch (k->kind) {
	case KNOB_COUNT:
	case KNOB_LEVEL:
		v = parse_count(k->flag, arg);
		break;
	case KNOB_RATE:
		v = parse_num(k->flag, arg);
		break;
	case KNOB_ON_OFF:
		v = !strcmp(arg, "on") ? 1 : !strcmp(arg, "off") ? 0 : 2;
		break;
	case KNOB_CODEC:
		v = codec_of_name(arg);
		break;
	}
	if (valid(k, v, -1))
		return v;
	if (k->kind == KNOB_ON_OFF)
		cli_die("%s: on or off, not '%s'", k->flag, arg);
	if (k->kind == KNOB_CODEC)
		cli_die("%s: %s, not '%s'", k->flag, codec_names(), arg);
	if (k->kind == KNOB_LEVEL) {
		knob_level_range(-1, &lo, &hi);
		cli_die("%s: 0..%d (0: the codec's default), not %s", k->flag, hi,
			arg);
	}
	cli_die("%s: %llu..%llu%s, not %s", k->flag, (unsigned long long)k->lo,
		(unsigned long long)k->hi, k->unit, arg);
}

void knob_check_level(enum kvmig_codec codec, uint64_t level)
{
	int lo, hi;

	if (knob_level_ok((int)codec, level))
		return;
	if (!knob_level_range((int)codec, &lo, &hi))
		cli_die("--level %llu: --codec %s takes no level",
			(unsigned long long)level, kvmig_codec_name(codec));
	cli_die("--level: %d..%d for --codec %s, not %llu", lo, hi,
		kvmig_codec_name(codec), (unsigned long long)level);
}

json_t *knob_json(const struct knob *k, uint64_t v)
{
	if (k->kind == KNOB_ON_OFF)
		return json_boolean(v);
	if (k->kind == KNOB_CODEC)
		return json_string(kvmig_codec_name((enum kvmig_codec)v));
	return json_integer((json_int_t)v);
}

/* @j as knob_parse() makes a value; one of the wrong type, refused */
static uint64_t from_json(const struct knob *k, json_t *j)
{
	switch (k->kind) {
	case KNOB_COUNT:
	case KNOB_RATE:
	case KNOB_LEVEL:
		/* below 0: above INT64_MAX, which no range reaches */
		return json_is_integer(j) ? (uint64_t)json_integer_value(j) :
					    UINT64_MAX;
	case KNOB_ON_OFF:
		return json_is_boolean(j) ? json_is_true(j) : 2;
	case KNOB_CODEC:
		return codec_of_name(json_string_value(j));
	}
	return UINT64_MAX;
}

static void store(struct kvmig_tunables *t, const struct knob *k, uint64_t v)
{
	void *f = (char *)t + k->off;

	switch (k->kind) {
	case KNOB_COUNT:
		*(uint32_t *)f = (uint32_t)v;
		break;
	case KNOB_RATE:
		*(uint64_t *)f = v;
		break;
	case KNOB_ON_OFF:
		*(bool *)f = !v;	/* no_io_aware: the field says off */
		break;
	case KNOB_CODEC:
		*(enum kvmig_codec *)f = (enum kvmig_codec)v;
		break;
	case KNOB_LEVEL:
		*(int *)f = (int)v;
		break;
	}
}

void knob_apply(struct kvmig_tunables *t, json_t *params)
{
	const struct knob *k;
	unsigned long long lo, hi;
	uint64_t v;
	int l, h;
	json_t *j;

	for (k = knobs; k < knobs + NR_KNOBS; k++) {
		j = json_object_get(params, k->key);
		if (!j)
			continue;
		/* the level goes with a codec: the library judges the two */
		v = from_json(k, j);
		if (valid(k, v, -1)) {
			store(t, k, v);
			continue;
		}
		if (k->kind == KNOB_CODEC) {
			fprintf(stderr, "kvmig: set: unknown codec '%s'\n",
				cli_safe(json_string_value(j)) ?: "?");
			continue;
		}
		if (k->kind == KNOB_ON_OFF) {
			fprintf(stderr, "kvmig: set: %s is not true or false: "
				"ignored\n", k->key);
			continue;
		}
		lo = k->lo;
		hi = k->hi;
		if (k->kind == KNOB_LEVEL) {
			knob_level_range(-1, &l, &h);
			lo = 0;
			hi = (unsigned long long)h;
		}
		fprintf(stderr, "kvmig: set: %s %lld is out of range %llu..%llu: "
			"ignored\n", k->key, (long long)json_integer_value(j), lo,
			hi);
	}
}
