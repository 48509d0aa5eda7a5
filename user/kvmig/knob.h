/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The live knobs (knob.c): what "kvmig set" changes in a running
 * migration.  One table holds, for each, kvmig set's option, the key that
 * migrate-set-parameters carries, the kind of value, its range and the
 * field of struct kvmig_tunables.  A value is checked by the one rule of
 * its kind wherever it comes in: kvmig set's options, the kvmig migrate
 * options that set the same knob, and the parameters that the running
 * kvmig migrate takes from its VMM (on_tune()).
 */
#ifndef KVMIG_KNOB_H
#define KVMIG_KNOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "kvmig/kvmig.h"

enum knob_kind {
	KNOB_COUNT,	/* a plain count in lo..hi; a uint32_t field */
	KNOB_RATE,	/* bytes/s, K/M/G or Kbit/Mbit/Gbit, lo..hi; a uint64_t */
	KNOB_ON_OFF,	/* on|off, in JSON true|false; a bool that says off */
	KNOB_CODEC,	/* a codec's name; an enum kvmig_codec */
	KNOB_LEVEL,	/* the codec's level, 0 its default; an int */
};

struct knob {
	int opt;		/* kvmig set's getopt value */
	const char *flag;	/* kvmig set's option, "--workers" */
	const char *key;	/* migrate-set-parameters' key */
	enum knob_kind kind;
	uint64_t lo, hi;	/* KNOB_COUNT, KNOB_RATE: the range */
	const char *unit;	/* after the range in a message, " ms" */
	size_t off;		/* of the field in struct kvmig_tunables */
};

/* The knob that kvmig set's option @opt sets, or NULL. */
const struct knob *knob_of_opt(int opt);

/*
 * The value of option @k->flag given as @arg, checked by its kind's rule
 * (a level against every codec's levels: knob_check_level() then checks
 * it against the codec in use); a bad one ends kvmig (exit 2), naming the
 * option.  kvmig set's options and kvmig migrate's of the same name.
 */
uint64_t knob_parse(const struct knob *k, const char *arg);

/* --level @level with --codec @codec: exit 2 unless the codec takes it. */
void knob_check_level(enum kvmig_codec codec, uint64_t level);

/* kvmig set: value @v of @k as migrate-set-parameters carries it. */
json_t *knob_json(const struct knob *k, uint64_t v);

/*
 * on_tune(): the knobs in @params (migrate-set-parameters' object) into
 * @t.  A value its knob's rule refuses is said on stderr and ignored, the
 * others are applied; whether they suit the migration together is the
 * library's to judge.
 */
void knob_apply(struct kvmig_tunables *t, json_t *params);

/* The levels @codec takes (< 0: those of any codec); false if none. */
bool knob_level_range(int codec, int *lo, int *hi);
/* Whether @codec (< 0: not known here) takes @level; 0 always. */
bool knob_level_ok(int codec, uint64_t level);

#endif
