// SPDX-License-Identifier: GPL-2.0
/*
 * The control socket: a unix stream socket speaking JSON lines, shaped like
 * QMP.  A request is one object per line,
 *
 *   {"execute": "query-stats", "arguments": {...}, "id": <any>}
 *
 * answered by one line, {"return": {...}, "id": ...} or
 * {"error": {"class": "...", "desc": "..."}, "id": ...}.  A malformed
 * request is answered with an error and the connection (and the VM) go on.
 * Documentation/control-protocol.rst is the reference.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "vm.h"

#define CONTROL_MAX_CLIENTS	16
#define CONTROL_MAX_LINE	65536

struct client {
	int fd;
	size_t len;		/* bytes in buf */
	bool discarding;	/* dropping the rest of an overlong line */
	char buf[CONTROL_MAX_LINE];
};

struct reply {
	json_t *ret;		/* owned; NULL with err set on failure */
	const char *err_class;
	char err[256];
	int fds[VM_MAX_SLOTS + 1];	/* to pass with the reply, not owned */
	unsigned int nr_fds;
	bool quit;
};

static void reply_error(struct reply *r, const char *cls, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void reply_error(struct reply *r, const char *cls, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->err, sizeof(r->err), fmt, ap);
	va_end(ap);
	r->err_class = cls;
	json_decref(r->ret);
	r->ret = NULL;
}

int control_listen(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(addr.sun_path)) {
		fprintf(stderr, "kvmig-vm: control socket path too long: %s\n",
			path);
		return -ENAMETOOLONG;
	}
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	unlink(path);
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) ||
	    listen(fd, 8)) {
		int r = -errno;

		fprintf(stderr, "kvmig-vm: control socket %s: %s\n", path,
			strerror(errno));
		close(fd);
		return r;
	}
	return fd;
}

static json_t *hist_json(const struct hist *h)
{
	return json_pack("{sI sI sI sI sI}",
			 "count", (json_int_t)h->count,
			 "p50", (json_int_t)hist_percentile(h, 50),
			 "p99", (json_int_t)hist_percentile(h, 99),
			 "max", (json_int_t)h->max,
			 "mean", (json_int_t)(h->count ? h->sum / h->count : 0));
}

static const char *const exit_names[CPU_EXIT_NR] = {
	[CPU_EXIT_IO] = "io",
	[CPU_EXIT_HLT] = "hlt",
	[CPU_EXIT_SLEEP] = "sleep",
	[CPU_EXIT_INTR] = "intr",
	[CPU_EXIT_MMIO] = "mmio",
	[CPU_EXIT_DIRTY_RING_FULL] = "dirty-ring-full",
	[CPU_EXIT_OTHER] = "other",
};

json_t *control_stats_json(struct vm *vm)
{
	json_t *cpus = json_array(), *o;
	struct hist *all = calloc(1, sizeof(*all));
	uint64_t total_pages = 0;
	unsigned int i, k;

	for (i = 0; i < vm->nr_cpus; i++) {
		struct cpu *c = &vm->cpus[i];
		struct guest_vcpu *g = c->block;
		struct hist *h = calloc(1, sizeof(*h));
		json_t *exits = json_object();

		for (k = 0; k < CPU_EXIT_NR; k++)
			json_object_set_new(exits, exit_names[k], json_integer(
				(json_int_t)__atomic_load_n(&c->exits[k],
							    __ATOMIC_RELAXED)));
		if (h) {
			pthread_mutex_lock(&c->hist_lock);
			*h = c->io_hist;
			pthread_mutex_unlock(&c->hist_lock);
			if (all)
				hist_merge(all, h);
		}
		total_pages += g->pages_written;
		json_array_append_new(cpus, json_pack(
			"{sI ss so sI sI sI sI sI so}",
			"id", (json_int_t)i,
			"workload", workload_name(vm->specs[i].kind),
			"exits", exits,
			"pages-written", (json_int_t)g->pages_written,
			"bytes-written", (json_int_t)(g->pages_written *
						      GUEST_PAGE_SIZE),
			"io-round-trips", (json_int_t)g->io_round_trips,
			"loops", (json_int_t)g->loops,
			"working-set-pages", (json_int_t)g->ws_pages,
			"io-latency-ns", h ? hist_json(h) : json_null()));
		free(h);
	}
	o = json_pack("{sI sI sI so so}",
		      "uptime-ms", (json_int_t)((now_ns() - vm->start_ns) / 1000000),
		      "tsc-khz", (json_int_t)vm->tsc_khz,
		      "pages-written", (json_int_t)total_pages,
		      "io-latency-ns", all ? hist_json(all) : json_null(),
		      "vcpus", cpus);
	free(all);
	return o;
}

static json_t *memory_json(struct vm *vm, bool with_fd_index)
{
	json_t *slots = json_array();
	unsigned int i;

	for (i = 0; i < vm->nr_slots; i++) {
		json_t *s = json_pack("{sI sI sI}",
				      "id", (json_int_t)vm->slots[i].id,
				      "gpa", (json_int_t)vm->slots[i].gpa,
				      "size", (json_int_t)vm->slots[i].size);

		if (with_fd_index)
			json_object_set_new(s, "fd-index", json_integer(i));
		json_array_append_new(slots, s);
	}
	return json_pack("{sI sI so}", "page-size", (json_int_t)GUEST_PAGE_SIZE,
			 "ram-bytes", (json_int_t)vm->ram_bytes, "slots", slots);
}

static void cmd_verify(struct vm *vm, struct reply *r)
{
	struct verify_result res;
	bool was_paused = vm_is_paused(vm);

	if (!was_paused)
		cpu_pause_all(vm);
	verify_pages(vm, &res);
	if (!was_paused)
		cpu_resume_all(vm);
	r->ret = json_pack("{sI sI}", "pages", (json_int_t)res.pages,
			   "bad", (json_int_t)res.bad);
	if (res.bad) {
		json_object_set_new(r->ret, "first-bad-gpa",
				    json_integer((json_int_t)res.first_bad_gpa));
		json_object_set_new(r->ret, "first-bad-reason",
				    json_string(verify_state_name(res.first_bad_state)));
	}
}

/*
 * The guest checks its own pages.  A paused VM is resumed for the check and
 * paused again: each guest takes the request before its next page write,
 * so nothing but the page in flight at the pause changes meanwhile.
 */
static void cmd_guest_check(struct vm *vm, struct reply *r)
{
	bool was_paused = vm_is_paused(vm);
	uint64_t pages, bad;
	int err;

	err = cpu_guest_check(vm, was_paused, &pages, &bad);
	if (was_paused)
		cpu_pause_all(vm);
	if (err) {
		reply_error(r, "GenericError", "the guest did not answer the "
			    "self-check request");
		return;
	}
	r->ret = json_pack("{sI sI}", "pages", (json_int_t)pages,
			   "bad", (json_int_t)bad);
}

struct command {
	const char *name;
	void (*fn)(struct vm *vm, struct reply *r);
};

static void cmd_query_status(struct vm *vm, struct reply *r)
{
	bool paused = vm_is_paused(vm);

	r->ret = json_pack("{ss sb sI sI}",
			   "status", paused ? "paused" : "running",
			   "running", !paused,
			   "vcpus", (json_int_t)vm->nr_cpus,
			   "uptime-ms", (json_int_t)((now_ns() - vm->start_ns) /
						     1000000));
}

static void cmd_stop(struct vm *vm, struct reply *r)
{
	cpu_pause_all(vm);
	r->ret = json_object();
}

static void cmd_cont(struct vm *vm, struct reply *r)
{
	cpu_resume_all(vm);
	r->ret = json_object();
}

static void cmd_query_stats(struct vm *vm, struct reply *r)
{
	r->ret = control_stats_json(vm);
}

static void cmd_query_memory(struct vm *vm, struct reply *r)
{
	r->ret = memory_json(vm, false);
}

/*
 * Hand the guest RAM memfds and the VM fd to the peer.  The reply carries
 * them as SCM_RIGHTS in slot order, the VM fd last; "fd-index" in each slot
 * and "vm-fd-index" say which is which.
 */
static void cmd_get_fds(struct vm *vm, struct reply *r)
{
	unsigned int i;

	for (i = 0; i < vm->nr_slots; i++)
		r->fds[i] = vm->slots[i].memfd;
	r->fds[i] = vm->vm_fd;
	r->ret = memory_json(vm, true);
	json_object_set_new(r->ret, "vm-fd-index", json_integer(i));
	r->nr_fds = i + 1;
}

static void cmd_quit(struct vm *vm, struct reply *r)
{
	(void)vm;
	r->ret = json_object();
	r->quit = true;
}

static const struct command commands[] = {
	{ "query-status", cmd_query_status },
	{ "stop", cmd_stop },
	{ "cont", cmd_cont },
	{ "query-stats", cmd_query_stats },
	{ "query-memory", cmd_query_memory },
	{ "get-fds", cmd_get_fds },
	{ "verify", cmd_verify },
	{ "guest-check", cmd_guest_check },
	{ "quit", cmd_quit },
};

static void dispatch(struct vm *vm, const char *line, size_t len,
		     struct reply *r, json_t **id)
{
	json_error_t jerr;
	json_t *req, *exec, *args;
	const char *key;
	json_t *val;
	size_t i;

	req = json_loadb(line, len, JSON_DECODE_ANY, &jerr);
	if (!req) {
		reply_error(r, "GenericError", "malformed JSON at column %d: %s",
			    jerr.column, jerr.text);
		return;
	}
	if (!json_is_object(req)) {
		reply_error(r, "GenericError", "request must be a JSON object");
		goto out;
	}
	*id = json_incref(json_object_get(req, "id"));
	json_object_foreach(req, key, val) {
		if (strcmp(key, "execute") && strcmp(key, "arguments") &&
		    strcmp(key, "id")) {
			reply_error(r, "GenericError", "unknown member '%s' in "
				    "request (execute, arguments, id)", key);
			goto out;
		}
	}
	exec = json_object_get(req, "execute");
	if (!exec) {
		reply_error(r, "GenericError", "request has no 'execute' member");
		goto out;
	}
	if (!json_is_string(exec)) {
		reply_error(r, "GenericError", "'execute' must be a string");
		goto out;
	}
	args = json_object_get(req, "arguments");
	if (args && (!json_is_object(args) || json_object_size(args))) {
		reply_error(r, "GenericError", "command '%s' takes no arguments",
			    json_string_value(exec));
		goto out;
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (!strcmp(commands[i].name, json_string_value(exec))) {
			commands[i].fn(vm, r);
			goto out;
		}
	}
	reply_error(r, "CommandNotFound", "unknown command '%.64s'",
		    json_string_value(exec));
out:
	json_decref(req);
}

static int send_reply(int fd, struct reply *r, json_t *id)
{
	struct msghdr msg = { 0 };
	struct iovec iov;
	char cbuf[CMSG_SPACE(sizeof(int) * (VM_MAX_SLOTS + 1))];
	json_t *o;
	char *text;
	size_t len;
	ssize_t n;
	int ret = 0;

	if (r->ret)
		o = json_pack("{sO}", "return", r->ret);
	else
		o = json_pack("{s{ssss}}", "error", "class", r->err_class,
			      "desc", r->err);
	if (id)
		json_object_set(o, "id", id);
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (!text)
		return -ENOMEM;
	len = strlen(text);
	text[len++] = '\n';	/* json_dumps leaves room: replace the NUL */

	iov.iov_base = text;
	iov.iov_len = len;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (r->nr_fds) {
		struct cmsghdr *cm;

		memset(cbuf, 0, sizeof(cbuf));
		msg.msg_control = cbuf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * r->nr_fds);
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * r->nr_fds);
		memcpy(CMSG_DATA(cm), r->fds, sizeof(int) * r->nr_fds);
	}
	/*
	 * Replies are small; a client that does not read them fills its socket
	 * buffer and is dropped rather than blocking the VMM.
	 */
	n = sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n != (ssize_t)len)
		ret = -EPIPE;
	free(text);
	return ret;
}

/* Handle every complete line in the client's buffer; false = drop client. */
static bool client_process(struct vm *vm, struct client *c, bool *quit)
{
	char *nl;

	while ((nl = memchr(c->buf, '\n', c->len))) {
		size_t line_len = (size_t)(nl - c->buf);
		struct reply r = { 0 };
		json_t *id = NULL;
		bool blank = true;
		size_t i;

		for (i = 0; i < line_len; i++)
			blank &= c->buf[i] == ' ' || c->buf[i] == '\t' ||
				 c->buf[i] == '\r';
		if (c->discarding) {
			c->discarding = false;
			reply_error(&r, "GenericError", "request longer than %d "
				    "bytes", CONTROL_MAX_LINE);
		} else if (!blank) {
			dispatch(vm, c->buf, line_len, &r, &id);
		}
		/* a reply that cannot be sent does not cancel a quit */
		if (!blank || r.err_class)
			send_reply(c->fd, &r, id);
		*quit |= r.quit;
		json_decref(r.ret);
		json_decref(id);
		memmove(c->buf, nl + 1, c->len - line_len - 1);
		c->len -= line_len + 1;
	}
	if (c->len == sizeof(c->buf)) {
		c->discarding = true;	/* answered when its newline comes */
		c->len = 0;
	}
	return true;
}

static bool client_read(struct vm *vm, struct client *c, bool *quit)
{
	ssize_t n = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return true;
	if (n <= 0)
		return false;
	c->len += (size_t)n;
	return client_process(vm, c, quit);
}

/*
 * Serve the control socket until a quit request, a signal on @sig_fd, the
 * @deadline_ns (0 = none) or a vCPU failure.  Returns why it stopped.
 */
enum control_end control_run(struct vm *vm, int listen_fd, int sig_fd,
			     uint64_t deadline_ns)
{
	struct client *clients[CONTROL_MAX_CLIENTS] = { 0 };
	enum control_end end = CONTROL_END_QUIT;
	bool quit = false;
	unsigned int i;

	while (!quit) {
		struct pollfd pfd[CONTROL_MAX_CLIENTS + 2];
		struct client *who[CONTROL_MAX_CLIENTS + 2] = { 0 };
		unsigned int n = 0;
		int timeout = 100;
		bool failed;

		pthread_mutex_lock(&vm->lock);
		failed = vm->failure != NULL;
		pthread_mutex_unlock(&vm->lock);
		if (failed) {
			end = CONTROL_END_FAILURE;
			break;
		}
		if (deadline_ns && now_ns() >= deadline_ns) {
			end = CONTROL_END_DEADLINE;
			break;
		}
		if (listen_fd >= 0)
			pfd[n++] = (struct pollfd){ .fd = listen_fd, .events = POLLIN };
		pfd[n++] = (struct pollfd){ .fd = sig_fd, .events = POLLIN };
		for (i = 0; i < CONTROL_MAX_CLIENTS; i++) {
			if (!clients[i])
				continue;
			who[n] = clients[i];
			pfd[n++] = (struct pollfd){ .fd = clients[i]->fd,
						    .events = POLLIN };
		}
		if (poll(pfd, n, timeout) < 0 && errno != EINTR)
			break;
		for (i = 0; i < n; i++) {
			if (!pfd[i].revents)
				continue;
			if (pfd[i].fd == sig_fd) {
				end = CONTROL_END_SIGNAL;
				quit = true;
			} else if (pfd[i].fd == listen_fd) {
				int cfd = accept4(listen_fd, NULL, NULL,
						  SOCK_CLOEXEC | SOCK_NONBLOCK);
				unsigned int j;

				if (cfd < 0)
					continue;
				for (j = 0; j < CONTROL_MAX_CLIENTS; j++)
					if (!clients[j])
						break;
				if (j == CONTROL_MAX_CLIENTS ||
				    !(clients[j] = calloc(1, sizeof(struct client)))) {
					close(cfd);	/* too many clients */
					continue;
				}
				clients[j]->fd = cfd;
			} else if (!client_read(vm, who[i], &quit)) {
				unsigned int j;

				for (j = 0; j < CONTROL_MAX_CLIENTS; j++) {
					if (clients[j] == who[i]) {
						close(who[i]->fd);
						free(who[i]);
						clients[j] = NULL;
					}
				}
			}
		}
	}
	for (i = 0; i < CONTROL_MAX_CLIENTS; i++) {
		if (clients[i]) {
			close(clients[i]->fd);
			free(clients[i]);
		}
	}
	return end;
}
