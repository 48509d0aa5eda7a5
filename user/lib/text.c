// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * Text that comes from elsewhere (a peer's ERROR frame, a VMM's error
 * description) is escaped before anyone prints it: a peer must not be able
 * to move the operator's cursor, clear the screen, or forge a line of
 * output or of a log.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

KVMIG_EXPORT size_t kvmig_text_escape(char *out, size_t outlen, const char *in,
				      size_t inlen)
{
	size_t o = 0, i;

	if (!outlen)
		return 0;
	for (i = 0; in && i < inlen && in[i]; i++) {
		unsigned char c = (unsigned char)in[i];
		char e[5];
		size_t n;

		if (c == '\\')
			n = (size_t)snprintf(e, sizeof(e), "\\\\");
		else if (c == '\n')
			n = (size_t)snprintf(e, sizeof(e), "\\n");
		else if (c == '\t')
			n = (size_t)snprintf(e, sizeof(e), "\\t");
		else if (c < 0x20 || c >= 0x7f)
			n = (size_t)snprintf(e, sizeof(e), "\\x%02x", c);
		else
			n = (size_t)snprintf(e, sizeof(e), "%c", c);
		if (o + n >= outlen)
			break;		/* never half an escape */
		memcpy(out + o, e, n);
		o += n;
	}
	out[o] = 0;
	return o;
}
