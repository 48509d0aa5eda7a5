/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The command line's numbers and addresses (parse.c, Documentation/
 * kvmig.rst, "Option values"): each takes the option's name for its
 * message, and a bad value ends kvmig (exit 2).
 */
#ifndef KVMIG_PARSE_H
#define KVMIG_PARSE_H

#include <stdbool.h>
#include <stdint.h>

uint64_t parse_count(const char *opt, const char *s);
uint64_t parse_range(const char *opt, const char *s, uint64_t lo,
		     uint64_t hi, const char *unit);
int parse_timeout(const char *s);
uint64_t parse_num(const char *opt, const char *s);
void parse_tcp(const char *opt, const char *s, bool port0, char **host,
	       char **port);

#endif
