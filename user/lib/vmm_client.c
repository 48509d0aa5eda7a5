// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * Client side of the VMM control protocol (JSON lines over a unix socket,
 * fds by SCM_RIGHTS; Documentation/control-protocol.rst).  One request at
 * a time: the VMM answers each with exactly one line, so everything up to
 * the newline is this request's answer.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "internal.h"
#include "log.h"
#include "opts.h"
#include "vmm_client.h"

#define VMM_MAX_REPLY	(1 << 20)

static const char *json_type_name(const json_t *j)
{
	switch (json_typeof(j)) {
	case JSON_OBJECT: return "object";
	case JSON_ARRAY: return "array";
	case JSON_STRING: return "string";
	case JSON_INTEGER:
	case JSON_REAL: return "number";
	case JSON_TRUE:
	case JSON_FALSE: return "boolean";
	default: return "null";
	}
}

struct kvmig_vmm {
	int fd;
	int timeout_ms;
	struct kvmig_log log;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char error[384];
	char *buf;		/* reply assembly, VMM_MAX_REPLY bytes */
	bool broken;		/* a reply was lost: requests and replies
				 * would no longer pair up */
};

KVMIG_EXPORT struct kvmig_vmm *kvmig_vmm_connect(const char *path,
						 const struct kvmig_vmm_opts *opts)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct kvmig_vmm *v;
	int r;

	if (!path || strlen(path) >= sizeof(addr.sun_path))
		return err_ptr(-ENAMETOOLONG);
	if (OPTS_REFUSED(opts, ""))
		return err_ptr(-EINVAL);
	v = calloc(1, sizeof(*v));
	if (!v)
		return NULL;
	v->log.fn = OPTS_GET(opts, print, NULL);
	v->log.opaque = OPTS_GET(opts, print_opaque, NULL);
	v->timeout_ms = OPTS_GET(opts, timeout_ms, 0);
	if (v->timeout_ms <= 0)
		v->timeout_ms = 60000;
	strcpy(v->path, path);
	v->buf = malloc(VMM_MAX_REPLY);
	v->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (!v->buf || v->fd < 0) {
		r = v->buf ? -errno : -ENOMEM;
		goto err;
	}
	strcpy(addr.sun_path, path);
	if (connect(v->fd, (struct sockaddr *)&addr, sizeof(addr))) {
		r = -errno;
		pr_err(&v->log, "cannot connect to the VMM at %s: %s", path,
		       strerror(errno));
		goto err;
	}
	return v;
err:
	if (v->fd >= 0)
		close(v->fd);
	free(v->buf);
	free(v);
	return err_ptr(r);
}

KVMIG_EXPORT void kvmig_vmm_close(struct kvmig_vmm *v)
{
	if (!v)
		return;
	close(v->fd);
	free(v->buf);
	free(v);
}

KVMIG_EXPORT const char *kvmig_vmm_last_error(const struct kvmig_vmm *v)
{
	return v->error;
}

static int send_all(struct kvmig_vmm *v, const char *p, size_t len)
{
	while (len) {
		ssize_t n = send(v->fd, p, len, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Read one reply line into v->buf (NUL-terminated), collecting fds. */
static int recv_line(struct kvmig_vmm *v, size_t *len, int *fds,
		     unsigned int max_fds, unsigned int *nr_fds)
{
	*len = 0;
	for (;;) {
		char cbuf[CMSG_SPACE(sizeof(int) * 32)];
		struct iovec iov = { v->buf + *len, VMM_MAX_REPLY - 1 - *len };
		struct msghdr msg = {
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
		};
		struct pollfd p = { .fd = v->fd, .events = POLLIN };
		struct cmsghdr *cm;
		ssize_t n;
		int r;

		if (!iov.iov_len)
			return -EMSGSIZE;
		r = poll(&p, 1, v->timeout_ms);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r ? -errno : -ETIMEDOUT;
		n = recvmsg(v->fd, &msg, MSG_CMSG_CLOEXEC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ECONNRESET;
		for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
			unsigned int k, cnt;

			if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
				continue;
			cnt = (unsigned int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
			for (k = 0; k < cnt; k++) {
				int fd;

				memcpy(&fd, CMSG_DATA(cm) + k * sizeof(int), sizeof(fd));
				if (nr_fds && *nr_fds < max_fds)
					fds[(*nr_fds)++] = fd;
				else
					close(fd);
			}
		}
		*len += (size_t)n;
		if (memchr(v->buf + *len - n, '\n', (size_t)n))
			break;
	}
	v->buf[*len] = 0;
	return 0;
}

int vmm_reply_parse(const char *cmd, const char *path, const char *line,
		    size_t len, char **reply_json, char *err, size_t errlen)
{
	json_t *rep, *ret, *error;
	json_error_t jerr;
	int r = 0;

	rep = json_loadb(line, len, 0, &jerr);
	if (!rep || !json_is_object(rep)) {
		char why[sizeof(jerr.text) * 4];

		/* jansson quotes the bytes it stopped at: the VMM's, escaped */
		if (rep)
			snprintf(why, sizeof(why), "a JSON %s", json_type_name(rep));
		else
			kvmig_text_escape(why, sizeof(why), jerr.text,
					  sizeof(jerr.text));
		snprintf(err, errlen, "%s: the reply of the VMM at %s is not a "
			 "JSON object (%s): is it a kvmig control socket?", cmd,
			 path, why);
		json_decref(rep);
		return -EPROTO;
	}
	error = json_object_get(rep, "error");
	ret = json_object_get(rep, "return");
	if (error) {
		const char *desc = json_string_value(json_object_get(error, "desc"));

		/* the VMM's words: escaped before anyone prints them */
		if (desc && desc[0])
			kvmig_text_escape(err, errlen, desc, strlen(desc));
		else
			snprintf(err, errlen, "error without description");
		r = -EREMOTEIO;
	} else if (!ret) {
		snprintf(err, errlen, "%s: reply has neither return nor error",
			 cmd);
		r = -EPROTO;
	} else if (reply_json) {
		*reply_json = json_dumps(ret, JSON_COMPACT | JSON_ENCODE_ANY);
		if (!*reply_json)
			r = -ENOMEM;
	}
	json_decref(rep);
	return r;
}

KVMIG_EXPORT int kvmig_vmm_request(struct kvmig_vmm *v, const char *cmd,
				   const char *args_json, char **reply_json,
				   int *fds, unsigned int max_fds,
				   unsigned int *nr_fds)
{
	json_t *req;
	json_error_t jerr;
	char *text = NULL;
	size_t len;
	unsigned int i;
	int r;

	v->error[0] = 0;
	if (nr_fds)
		*nr_fds = 0;
	if (reply_json)
		*reply_json = NULL;
	if (v->broken) {
		snprintf(v->error, sizeof(v->error), "%s: the connection to the VMM "
			 "lost a reply earlier; reconnect", cmd);
		return -EPIPE;
	}
	req = json_pack("{ss}", "execute", cmd);
	if (!req)
		return -ENOMEM;
	if (args_json) {
		json_t *a = json_loads(args_json, 0, &jerr);

		if (!a || !json_is_object(a)) {
			if (a)
				snprintf(jerr.text, sizeof(jerr.text), "a JSON %s",
					 json_type_name(a));
			json_decref(a);
			json_decref(req);
			snprintf(v->error, sizeof(v->error), "%s: the arguments are "
				 "not a JSON object (%s): '%.80s'", cmd, jerr.text,
				 args_json);
			return -EINVAL;
		}
		json_object_set_new(req, "arguments", a);
	}
	text = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	if (!text)
		return -ENOMEM;
	len = strlen(text);
	text[len] = '\n';	/* replaces the NUL; we send len + 1 bytes */
	r = send_all(v, text, len + 1);
	free(text);
	if (!r)
		r = recv_line(v, &len, fds, max_fds, nr_fds);
	if (r == -ETIMEDOUT) {
		snprintf(v->error, sizeof(v->error), "%s: the VMM at %s did not "
			 "answer within %.1f s", cmd, v->path,
			 v->timeout_ms / 1000.0);
		v->broken = true;
		goto err_fds;
	}
	if (r) {
		snprintf(v->error, sizeof(v->error), "%s: the VMM at %s: %s", cmd,
			 v->path, r == -ECONNRESET ? "it closed the connection" :
			 strerror(-r));
		v->broken = true;
		goto err_fds;
	}
	r = vmm_reply_parse(cmd, v->path, v->buf, len, reply_json, v->error,
			    sizeof(v->error));
	if (r)
		goto err_fds;
	return 0;

err_fds:
	for (i = 0; nr_fds && i < *nr_fds; i++)
		close(fds[i]);
	if (nr_fds)
		*nr_fds = 0;
	return r;
}

const char *kvmig_vmm_path(const struct kvmig_vmm *v)
{
	return v->path;
}

int kvmig_vmm_status(struct kvmig_vmm *v, char *buf, size_t len)
{
	const char *status;
	char *text;
	json_t *ret;
	int r;

	r = kvmig_vmm_request(v, "query-status", NULL, &text, NULL, 0, NULL);
	if (r)
		return r;
	ret = json_loads(text, 0, NULL);
	free(text);
	status = json_string_value(json_object_get(ret, "status"));
	if (!status || !*status) {
		snprintf(v->error, sizeof(v->error), "query-status: the reply of the "
			 "VMM at %s has no \"status\"", v->path);
		json_decref(ret);
		return -EPROTO;
	}
	snprintf(buf, len, "%s", status);
	json_decref(ret);
	return 0;
}

KVMIG_EXPORT struct kvmig_memmap *kvmig_vmm_map_memory(struct kvmig_vmm *v)
{
	struct kvmig_memmap_opts mo = {
		.sz = sizeof(mo), .print = v->log.fn, .print_opaque = v->log.opaque,
	};
	struct kvmig_memmap *map = NULL;
	json_t *ret = NULL, *slots, *s;
	unsigned int nr = 0, i;
	char *text = NULL;
	int fds[KVMIG_MAX_SLOTS + 1];
	size_t k;
	int r;

	r = kvmig_vmm_request(v, "get-fds", NULL, &text, fds, ARRAY_SIZE(fds), &nr);
	if (r) {
		/* v->error names the command, but for the VMM's own errors */
		pr_err(&v->log, "%s%s", r == -EREMOTEIO ? "get-fds: " : "",
		       v->error);
		return err_ptr(r);
	}
	ret = json_loads(text, 0, NULL);
	slots = json_object_get(ret, "slots");
	map = kvmig_memmap_new(&mo);
	if (!map || !json_is_array(slots)) {
		r = map ? -EPROTO : -ENOMEM;
		goto out;
	}
	json_array_foreach(slots, k, s) {
		json_int_t idx = json_integer_value(json_object_get(s, "fd-index"));
		struct kvmig_slot_desc d = {
			.sz = sizeof(d),
			.id = (uint32_t)json_integer_value(json_object_get(s, "id")),
			.gpa = (uint64_t)json_integer_value(json_object_get(s, "gpa")),
			.size = (uint64_t)json_integer_value(json_object_get(s, "size")),
		};

		if (idx < 0 || idx >= nr) {
			pr_err(&v->log, "get-fds: slot %u names fd %lld of %u", d.id,
			       (long long)idx, nr);
			r = -EPROTO;
			goto out;
		}
		d.memfd = fds[idx];
		r = kvmig_memmap_add(map, &d);
		if (r)
			goto out;
	}
out:
	for (i = 0; i < nr; i++)
		close(fds[i]);
	json_decref(ret);
	free(text);
	if (r) {
		kvmig_memmap_free(map);
		return err_ptr(r);
	}
	return map;
}
