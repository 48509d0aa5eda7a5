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
 *
 * This file is the transport: the socket, its clients, the command table
 * and dispatch.  The commands themselves are in control_<concern>.c, one
 * file per concern, behind control.h.
 */
#include <errno.h>
#include <grp.h>
#include <jansson.h>
#include <poll.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"

#define CONTROL_MAX_CLIENTS	16
#define CONTROL_MAX_LINE	65536	/* a request, without its newline */

struct client {
	int fd;
	size_t len;		/* bytes in buf */
	bool discarding;	/* dropping the rest of an overlong line */
	char buf[CONTROL_MAX_LINE + 1];
};

/*
 * @addr's path may hold a socket left by a VMM that died: replace that one.
 * One that a live process answers on stays (its VM would run on,
 * unreachable); so does anything that is not a socket.  Whether the path is
 * free now.
 */
static bool stale_socket_gone(const struct sockaddr_un *addr)
{
	const char *path = addr->sun_path;
	struct stat sb;
	int fd, r;

	if (lstat(path, &sb))
		return true;	/* nothing there (or bind() will say why) */
	if (!S_ISSOCK(sb.st_mode)) {
		fprintf(stderr, "kvmig-vm: control socket %s: the path exists and "
			"is not a socket; not replacing it\n", path);
		return false;
	}
	/* non-blocking: a blocking connect to a full backlog would wait */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		fprintf(stderr, "kvmig-vm: control socket: %s\n", strerror(errno));
		return false;
	}
	r = connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) ? errno : 0;
	close(fd);
	if (!r || r == EAGAIN) {
		/* EAGAIN: a live listener whose backlog is full */
		fprintf(stderr, "kvmig-vm: control socket %s: another process "
			"serves it (a running VMM?); choose another path, or "
			"stop that one first\n", path);
		return false;
	}
	if (r != ECONNREFUSED) {
		fprintf(stderr, "kvmig-vm: control socket %s: %s\n", path,
			strerror(r));
		return false;
	}
	/* nobody listens: left behind by a VMM that is gone */
	if (unlink(path) && errno != ENOENT) {
		fprintf(stderr, "kvmig-vm: control socket %s: removing the stale "
			"socket: %s\n", path, strerror(errno));
		return false;
	}
	return true;
}

int control_listen(const char *path, gid_t gid)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	mode_t mask;
	int fd, r;

	if (strlen(path) >= sizeof(addr.sun_path)) {
		fprintf(stderr, "kvmig-vm: control socket path too long: %s\n",
			path);
		return -ENAMETOOLONG;
	}
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		int r = -errno;

		fprintf(stderr, "kvmig-vm: control socket: %s\n", strerror(errno));
		return r;
	}
	if (!stale_socket_gone(&addr)) {
		close(fd);
		return -EADDRINUSE;
	}
	/* the owner (and the group given) only, from the moment it exists */
	mask = umask(gid != (gid_t)-1 ? 0117 : 0177);
	r = bind(fd, (struct sockaddr *)&addr, sizeof(addr));
	umask(mask);
	if (r || (gid != (gid_t)-1 && chown(path, (uid_t)-1, gid)) || listen(fd, 8)) {
		r = -errno;
		fprintf(stderr, "kvmig-vm: control socket %s: %s\n", path,
			strerror(errno));
		close(fd);
		return r;
	}
	return fd;
}

/*
 * Whether the peer on @fd may drive this VMM: our uid, root, or the
 * --control-group (as its primary group or one it belongs to).  The
 * socket's mode keeps others out already; this holds if the mode is
 * widened, or the socket is reached through a descriptor passed on.
 */
static bool peer_allowed(const struct vm *vm, int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	bool ok = false;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len)) {
		fprintf(stderr, "kvmig-vm: control socket: SO_PEERCRED: %s: "
			"connection refused\n", strerror(errno));
		return false;
	}
	if (cred.uid == geteuid() || cred.uid == 0)
		return true;
	if (vm->control_gid != (gid_t)-1) {
		struct passwd *pw = getpwuid(cred.uid);
		gid_t groups[256];
		int n = 256, i;

		ok = cred.gid == vm->control_gid;
		if (!ok && pw && getgrouplist(pw->pw_name, pw->pw_gid, groups, &n) >= 0)
			for (i = 0; i < n && !ok; i++)
				ok = groups[i] == vm->control_gid;
	}
	if (!ok) {
		char who[64] = "root", group[32] = "";

		if (geteuid())
			snprintf(who, sizeof(who), "uid %u and root", geteuid());
		if (vm->control_gid != (gid_t)-1)
			snprintf(group, sizeof(group), " and group %u", vm->control_gid);
		fprintf(stderr, "kvmig-vm: control socket: refused a connection "
			"from uid %u gid %u (pid %d): only %s%s may use it\n",
			cred.uid, cred.gid, cred.pid, who, group);
	}
	return ok;
}

/*
 * Client @c is gone.  If it was a migration helper in the middle of its
 * work, undo what only it would have undone.
 */
static void client_gone(struct vm *vm, void *c)
{
	if (vm->migration_owner == c && control_migrate_is_active(vm)) {
		fprintf(stderr, "kvmig-vm: the migration helper went away during "
			"the migration: marking it failed\n");
		json_object_set_new(vm->migration, "status", json_string("failed"));
		json_object_set_new(vm->migration, "error-desc",
				    json_string("the migration helper disconnected"));
		vm->migration_cancel = false;
		json_decref(vm->migration_params);
		vm->migration_params = NULL;
		if (vm->pause_owner == c) {
			fprintf(stderr, "kvmig-vm: resuming the guest it paused\n");
			vm->pause_owner = NULL;
			cpu_resume_all(vm);
		}
	}
	if (vm->dirty_owner == c && vm->dirty_on) {
		fprintf(stderr, "kvmig-vm: the client that started dirty logging "
			"went away: stopping it\n");
		kvmig_dirty_stop(vm->dirty);
		vm->dirty_on = false;
	}
	if (vm->dirty_owner == c)
		vm->dirty_owner = NULL;
	if (vm->pause_owner == c)
		vm->pause_owner = NULL;
	if (vm->migration_owner == c)
		vm->migration_owner = NULL;
	if (vm->limit_owner == c) {
		struct throttle_req none = {
			.limit = true, .l = { .sz = sizeof(none.l) },
		};
		char err[256];

		vm->limit_owner = NULL;
		if (throttle_any(vm, true)) {
			fprintf(stderr, "kvmig-vm: the client that set dirty-rate "
				"limits went away: removing them\n");
			if (throttle_set(vm, -1, &none, err, sizeof(err)))
				fprintf(stderr, "kvmig-vm: %s\n", err);
		}
	}
	if (vm->throttle_owner == c) {
		struct throttle_req none = { .throttle = true };
		char err[256];

		vm->throttle_owner = NULL;
		if (throttle_any(vm, false)) {
			fprintf(stderr, "kvmig-vm: the client that set CPU throttles "
				"went away: removing them\n");
			if (throttle_set(vm, -1, &none, err, sizeof(err)))
				fprintf(stderr, "kvmig-vm: %s\n", err);
		}
	}
}

static void cmd_quit(struct vm *vm, json_t *args, struct reply *r)
{
	(void)args;
	(void)vm;
	r->ret = json_object();
	r->quit = true;
}

static void cmd_help(struct vm *vm, json_t *args, struct reply *r);

/*
 * The commands, in the order help lists them, each with the names of the
 * arguments it accepts (control_request_parse() refuses any other) in its
 * own row.  A
 * new command is one row here plus its handler, control_<concern>_*, in the
 * file of its concern (control_vm.c, control_stats.c, control_dirty.c,
 * control_migrate.c, control_limit.c), declared in control.h with that
 * file's others.
 */
#define ARGS(...)	((const char *const[]){ __VA_ARGS__, NULL })

static const struct control_command commands[] = {
	{ "help", cmd_help, NULL },
	{ "query-status", control_vm_query_status, NULL },
	{ "stop", control_vm_stop, NULL },
	{ "cont", control_vm_cont, NULL },
	{ "query-stats", control_stats_query, NULL },
	{ "query-memory", control_vm_query_memory, NULL },
	{ "get-fds", control_vm_get_fds, NULL },
	{ "verify", control_vm_verify, NULL },
	{ "guest-check", control_vm_guest_check, NULL },
	{ "quit", cmd_quit, NULL },
	{ "dirty-start", control_dirty_start, ARGS("backend") },
	{ "dirty-sync", control_dirty_sync, NULL },
	{ "dirty-rearm", control_dirty_rearm, ARGS("first", "count") },
	{ "dirty-stop", control_dirty_stop, NULL },
	{ "get-device-state", control_migrate_get_device_state, NULL },
	{ "set-device-state", control_migrate_set_device_state,
	  ARGS("format", "vcpus", "blob") },
	{ "migrate-set-status", control_migrate_set_status, ARGS("status") },
	{ "query-migrate", control_migrate_query, NULL },
	{ "migrate-cancel", control_migrate_cancel, NULL },
	{ "migrate-set-parameters", control_migrate_set_parameters,
	  ARGS("workers", "codec", "level", "max-bandwidth", "downtime-limit",
	       "cpu-throttle-initial", "cpu-throttle-increment",
	       "max-cpu-throttle", "io-aware", "io-stall") },
	{ "set-vcpu-dirty-limit", control_limit_set,
	  ARGS("cpu-index", "bytes-per-sec", "burst-bytes", "io-stall-us",
	       "mechanism") },
	{ "cancel-vcpu-dirty-limit", control_limit_cancel, ARGS("cpu-index") },
	{ "query-vcpu-dirty-limit", control_limit_query, NULL },
	{ "set-vcpu-throttle", control_limit_set_throttle,
	  ARGS("cpu-index", "percentage") },
};

/* help: every command with the names of the arguments it accepts */
static void cmd_help(struct vm *vm, json_t *args, struct reply *r)
{
	json_t *list = json_array();
	unsigned int i;

	(void)vm;
	(void)args;
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		const char *const *a;
		json_t *names = json_array();

		for (a = commands[i].args; a && *a; a++)
			json_array_append_new(names, json_string(*a));
		json_array_append_new(list, json_pack("{ss so}", "name",
						      commands[i].name,
						      "arguments", names));
	}
	r->ret = list;
}

const struct control_command *control_request_parse(const char *line,
						   size_t len, struct reply *r,
						   json_t **req, json_t **args,
						   json_t **id)
{
	json_error_t jerr;
	json_t *exec, *val;
	const char *key;
	size_t i;

	*args = NULL;
	*req = json_loadb(line, len, JSON_DECODE_ANY, &jerr);
	if (!*req) {
		reply_error(r, "GenericError", "malformed JSON at column %d: %s",
			    jerr.column, jerr.text);
		return NULL;
	}
	if (!json_is_object(*req)) {
		reply_error(r, "GenericError", "request must be a JSON object");
		return NULL;
	}
	*id = json_incref(json_object_get(*req, "id"));
	json_object_foreach(*req, key, val) {
		if (strcmp(key, "execute") && strcmp(key, "arguments") &&
		    strcmp(key, "id")) {
			reply_error(r, "GenericError", "unknown member '%s' in "
				    "request (execute, arguments, id)", key);
			return NULL;
		}
	}
	exec = json_object_get(*req, "execute");
	if (!exec) {
		reply_error(r, "GenericError", "request has no 'execute' member");
		return NULL;
	}
	if (!json_is_string(exec)) {
		reply_error(r, "GenericError", "'execute' must be a string");
		return NULL;
	}
	*args = json_object_get(*req, "arguments");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		const struct control_command *c = &commands[i];

		if (strcmp(c->name, json_string_value(exec)))
			continue;
		if (*args && !json_is_object(*args)) {
			reply_error(r, "GenericError", "'arguments' must be an "
				    "object");
			return NULL;
		}
		if (*args && json_object_size(*args) && !c->args) {
			reply_error(r, "GenericError", "command '%s' takes no "
				    "arguments", c->name);
			return NULL;
		}
		json_object_foreach(*args, key, val) {
			const char *const *a;

			for (a = c->args; *a && strcmp(*a, key); a++)
				;
			if (!*a) {
				reply_error(r, "GenericError", "command '%s' has "
					    "no argument '%s'", c->name, key);
				return NULL;
			}
		}
		return c;
	}
	reply_error(r, "CommandNotFound", "unknown command '%.64s' ('help' "
		    "lists the commands)", json_string_value(exec));
	return NULL;
}

static void dispatch(struct vm *vm, const char *line, size_t len,
		     struct reply *r, json_t **id)
{
	const struct control_command *c;
	json_t *req, *args;

	c = control_request_parse(line, len, r, &req, &args, id);
	if (c)
		c->fn(vm, args, r);
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
	n = sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n != (ssize_t)len)
		ret = -EPIPE;
	free(text);
	return ret;
}

/*
 * Handle every complete line in the client's buffer; false = drop client.
 * Replies are small and sent without blocking: a client that does not read
 * them fills its socket buffer and is dropped, rather than stalling the VMM
 * or getting half a line.
 */
static bool client_process(struct vm *vm, struct client *c, bool *quit)
{
	bool drop = false;
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
			vm->cur_client = c;
			dispatch(vm, c->buf, line_len, &r, &id);
			vm->cur_client = NULL;
		}
		/* a reply that cannot be sent does not cancel a quit */
		if ((!blank || r.err_class) && send_reply(c->fd, &r, id))
			drop = true;
		*quit |= r.quit;
		json_decref(r.ret);
		json_decref(id);
		memmove(c->buf, nl + 1, c->len - line_len - 1);
		c->len -= line_len + 1;
		/* after a quit or a lost reply, the rest of the input is moot */
		if (drop || *quit)
			return !drop;
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
		if (poll(pfd, n, timeout) < 0 && errno != EINTR) {
			fprintf(stderr, "kvmig-vm: control loop: poll: %s\n",
				strerror(errno));
			end = CONTROL_END_FAILURE;
			break;
		}
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
				if (!peer_allowed(vm, cfd)) {
					close(cfd);
					continue;
				}
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
						client_gone(vm, who[i]);
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
