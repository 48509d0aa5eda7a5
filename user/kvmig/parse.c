// SPDX-License-Identifier: GPL-2.0
/*
 * The command line's numbers and addresses (parse.h): each parser takes
 * the option's name for its message and dies (exit 2) on a bad value.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "parse.h"

/* A plain count: no suffixes. */
uint64_t parse_count(const char *opt, const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-' || *end)
		cli_die("%s: '%s' is not a number", opt, s);
	return v;
}

/* A count in [@lo, @hi]; @unit ends the range in the message (" ms"). */
uint64_t parse_range(const char *opt, const char *s, uint64_t lo,
			    uint64_t hi, const char *unit)
{
	uint64_t v = parse_count(opt, s);

	if (v < lo || v > hi)
		cli_die("%s: %llu..%llu%s, not %s", opt, (unsigned long long)lo,
			(unsigned long long)hi, unit, s);
	return v;
}

/* --timeout S -> milliseconds */
int parse_timeout(const char *s)
{
	return (int)(parse_range("--timeout", s, 1, 86400, " s") * 1000);
}

/* Bytes (K/M/G binary suffixes) or, for rates, Kbit/Mbit/Gbit. */
uint64_t parse_num(const char *opt, const char *s)
{
	char *end;
	unsigned long long v;
	double bits;
	int shift = 0;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-')
		cli_die("%s: '%s' is not a number", opt, s);
	if (!strcmp(end, "Kbit") || !strcmp(end, "Mbit") || !strcmp(end, "Gbit")) {
		bits = (double)v * (end[0] == 'K' ? 1e3 : end[0] == 'M' ? 1e6 : 1e9);
		return (uint64_t)(bits / 8);
	}
	switch (*end) {
	case 'K': case 'k': shift = 10; end++; break;
	case 'M': case 'm': shift = 20; end++; break;
	case 'G': case 'g': shift = 30; end++; break;
	}
	if (*end)
		cli_die("%s: '%s' is not a number", opt, s);
	if (v > (~0ULL >> shift))
		cli_die("%s: '%s' is too large", opt, s);
	return v << shift;
}

/*
 * "tcp:HOST:PORT" -> host, port (host may be empty: any).  PORT is a
 * number, 1..65535, or 0 where @port0 (listen on a port the kernel picks).
 */
void parse_tcp(const char *opt, const char *s, bool port0, char **host,
		      char **port)
{
	const char *colon;
	uint64_t n;

	if (strncmp(s, "tcp:", 4) || !(colon = strrchr(s + 4, ':')) || !colon[1])
		cli_die("%s: '%s' is not tcp:HOST:PORT", opt, s);
	n = parse_count(opt, colon + 1);
	if (n > 65535 || (!n && !port0))
		cli_die("%s: port %s is not %u..65535", opt, colon + 1, port0 ? 0 : 1);
	*host = strndup(s + 4, (size_t)(colon - (s + 4)));
	*port = strdup(colon + 1);
	if (!*host || !*port)
		cli_die("out of memory");
	/* [::1] style */
	if ((*host)[0] == '[' && (*host)[strlen(*host) - 1] == ']') {
		memmove(*host, *host + 1, strlen(*host));
		(*host)[strlen(*host) - 1] = 0;
	}
	if (!port0 && !**host)
		cli_die("%s: '%s' names no host", opt, s);
}
