/*
 * The runtime's end of the shadow protocol (docs/shadow-protocol.md): one TCP session per
 * process, a challenge-response handshake keyed with the job's token, then one request at a time.
 * A lost connection is made again (backoff 50 ms to 1 s) for up to CKPT_SHADOW_RETRY seconds;
 * past that the job exits CKPT_EXIT_SHADOW_LOST. Handles belong to a connection: rt_remote_gen
 * counts connections, and vfiles.c opens its files again when it changes.
 */
#include "remote/remote.h"

#define RT_SH_BUF	(CKPT_SH_HEADER + CKPT_SH_MAX_PAYLOAD)
#define RT_TOKEN_MAX	512
#define RT_POLICY_MAX	4096

int rt_remote_on;
long rt_remote_fd = -1;
uint64_t rt_remote_gen;
static uint32_t rt_sh_seq, rt_sh_kind = CKPT_SH_KIND_JOB;
/* IPv4 address and port, network order, in one word: a restart on another machine pokes its own */
union rt_target rt_remote_target;
#define rt_sh_addr	rt_remote_target.at.addr
#define rt_sh_port	rt_remote_target.at.port
static char rt_sh_token[RT_TOKEN_MAX + 1];
static size_t rt_sh_token_len;
static uint32_t rt_sh_retry = 60;
static char rt_sh_policy[RT_POLICY_MAX];
static char rt_sh_where[64];		/* HOST:PORT as given, for messages */
static unsigned char *rt_sh_buf;	/* mapped on first use: RT_SH_BUF bytes */

static _Noreturn void rt_remote_fail(const char *why)
{
	const char *parts[] = { "ckpt: shadow ", rt_sh_where, ": ", why, "\n" };
	rt_write_line(parts, 5);
	rt_exit(CKPT_EXIT_SHADOW_LOST);
}

/*
 * HOST:PORT. KNOWN is the address a relinked process that exec'd this one had found for HOST
 * (CKPT_SHADOW_ADDR, dotted IPv4): a shell running a thousand commands asks DNS once, not a
 * thousand times, and its children reach the shadow it reaches.
 */
static void rt_parse_where(const char *where, const char *known)
{
	size_t len = rt_strlen(where);
	const char *colon = where + len;
	while (colon > where && colon[-1] != ':')
		colon--;
	if (colon == where)
		rt_remote_fail("CKPT_SHADOW must be HOST:PORT");
	uint32_t port = 0;
	for (const char *p = colon; *p; p++)
		port = *p >= '0' && *p <= '9' && port < 65536 ? port * 10 + (uint32_t)(*p - '0') : 70000;
	if (!port || port > 65535)
		rt_remote_fail("bad port in CKPT_SHADOW");
	rt_sh_port = (uint16_t)((port >> 8) | (port & 0xff) << 8);
	if (known && rt_resolve(known, rt_strlen(known), &rt_sh_addr))
		return;
	if (!rt_resolve(where, (size_t)(colon - 1 - where), &rt_sh_addr))
		rt_remote_fail("host not found (not an IPv4 address, nor a name in /etc/hosts or DNS)");
}

/* The token: the file's bytes without the CR and LF bytes at its end (ckpt_contract.h), as the
 * server reads its --token-file */
static void rt_read_token(const char *file)
{
	long n = file ? rt_read_file(file, rt_sh_token, sizeof rt_sh_token) : -1;
	while (n > 0 && (rt_sh_token[n - 1] == '\n' || rt_sh_token[n - 1] == '\r'))
		n--;
	if (n <= 0 || (size_t)n + 1 >= sizeof rt_sh_token)
		rt_remote_fail("cannot read CKPT_SHADOW_TOKEN_FILE (or the token is empty or too long)");
	rt_sh_token_len = (size_t)n;
}

/*
 * At least MIN and at most MAX bytes through the connection, sendto or recvfrom made again after a
 * short count: the count moved, or -1 when the connection failed
 */
static long rt_transfer(long nr, const void *buf, size_t min, size_t max, long flags)
{
	size_t done = 0;
	while (done < min) {
		long n = rt_syscall6(nr, rt_remote_fd, (long)buf + (long)done, (long)(max - done), flags, 0, 0);
		if (n == -EINTR)
			continue;
		if (n <= 0)
			return -1;
		done += (size_t)n;
	}
	return (long)done;
}

static int rt_send_all(const void *buf, size_t len)
{
	return rt_transfer(__NR_sendto, buf, len, len, RT_MSG_NOSIGNAL) < 0 ? -1 : 0;
}

static void rt_put_header(unsigned char *h, uint16_t type, uint32_t seq, uint32_t len)
{
	*(uint32_t *)(h + CKPT_SH_H_MAGIC) = CKPT_SH_MAGIC;
	*(uint16_t *)(h + CKPT_SH_H_VERSION) = CKPT_SH_VERSION;
	*(uint16_t *)(h + CKPT_SH_H_TYPE) = type;
	*(uint32_t *)(h + CKPT_SH_H_SEQ) = seq;
	*(uint32_t *)(h + CKPT_SH_H_LENGTH) = len;
}

/*
 * One frame into rt_sh_buf + CKPT_SH_HEADER; returns its payload length, or -1. The first read asks
 * for up to RT_FIRST_READ bytes, so a small reply (a stat's is 168 bytes) takes one recvfrom, not
 * two; the protocol has one request in flight, so nothing after the frame can be taken with it.
 */
#define RT_FIRST_READ 4096

static long rt_recv_frame(uint16_t type, uint32_t seq)
{
	unsigned char *h = rt_sh_buf;
	long have = rt_transfer(__NR_recvfrom, h, CKPT_SH_HEADER, RT_FIRST_READ, 0);
	if (have < 0)
		return -1;
	uint32_t len = *(uint32_t *)(h + CKPT_SH_H_LENGTH);
	uint16_t got = *(uint16_t *)(h + CKPT_SH_H_TYPE);
	if (*(uint32_t *)(h + CKPT_SH_H_MAGIC) != CKPT_SH_MAGIC || *(uint16_t *)(h + CKPT_SH_H_VERSION) != CKPT_SH_VERSION ||
	    len > CKPT_SH_MAX_PAYLOAD || (got != type && got != CKPT_SH_DENIED) || (type == CKPT_SH_REPLY && *(uint32_t *)(h + CKPT_SH_H_SEQ) != seq))
		return -1;
	size_t rest = CKPT_SH_HEADER + len - (size_t)have;
	if ((size_t)have > CKPT_SH_HEADER + len || (rest && rt_transfer(__NR_recvfrom, h + have, rest, rest, 0) < 0))
		return -1;
	if (got == CKPT_SH_DENIED) {
		h[CKPT_SH_HEADER + (len < 200 ? len : 200)] = 0;
		rt_remote_fail((const char *)h + CKPT_SH_HEADER);
	}
	return len;
}

static void rt_close_connection(void)
{
	if (rt_remote_fd >= 0)
		rt_syscall1(__NR_close, rt_remote_fd);
	rt_remote_fd = -1;
}

/* socket, connect and handshake; 0, or -1 to try again later */
static int rt_connect_once(int again)
{
	struct { uint16_t family, port; uint32_t addr; uint64_t zero; } sa = { RT_AF_INET, rt_sh_port, rt_sh_addr, 0 };
	long fd = rt_syscall3(__NR_socket, RT_AF_INET, RT_SOCK_STREAM | RT_SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	rt_remote_fd = rt_high_fd(fd, 16, 1);
	int one = 1;
	if (rt_syscall3(__NR_connect, rt_remote_fd, (long)&sa, sizeof sa) < 0) {
		rt_close_connection();
		return -1;
	}
	rt_syscall5(__NR_setsockopt, rt_remote_fd, IPPROTO_TCP, TCP_NODELAY, (long)&one, sizeof one);
	long len = rt_recv_frame(CKPT_SH_HELLO, 0);
	if (len < CKPT_SH_NONCE) {
		rt_close_connection();
		return -1;
	}
	unsigned char server_nonce[CKPT_SH_NONCE], auth[CKPT_SH_HEADER + CKPT_SH_AUTH_SIZE];
	unsigned char *a = auth + CKPT_SH_HEADER;
	uint32_t pid = (uint32_t)rt_ids_real.pid, kind = rt_sh_kind | (again ? CKPT_SH_KIND_AGAIN : 0);
	size_t policy = (size_t)len - CKPT_SH_NONCE < RT_POLICY_MAX - 1 ? (size_t)len - CKPT_SH_NONCE : RT_POLICY_MAX - 1;
	rt_memcpy(server_nonce, rt_sh_buf + CKPT_SH_HEADER, CKPT_SH_NONCE);
	rt_memcpy(rt_sh_policy, rt_sh_buf + CKPT_SH_HEADER + CKPT_SH_NONCE, policy);
	rt_sh_policy[policy] = 0;
	rt_syscall3(__NR_getrandom, (long)(a + CKPT_SH_AUTH_NONCE), CKPT_SH_NONCE, 0);
	struct rt_part parts[] = { { RT_LITERAL(CKPT_SH_AUTH_LABEL) }, { server_nonce, CKPT_SH_NONCE },
				   { a + CKPT_SH_AUTH_NONCE, CKPT_SH_NONCE }, { &pid, 4 } };
	rt_hmac_sha256((const unsigned char *)rt_sh_token, rt_sh_token_len, parts, 4, a + CKPT_SH_AUTH_MAC);
	*(uint32_t *)(a + CKPT_SH_AUTH_PID) = pid;
	*(uint32_t *)(a + CKPT_SH_AUTH_KIND) = kind;
	rt_put_header(auth, CKPT_SH_AUTH, 0, CKPT_SH_AUTH_SIZE);
	if (rt_send_all(auth, sizeof auth) || rt_recv_frame(CKPT_SH_WELCOME, 0) < CKPT_SH_WELCOME_SIZE) {
		rt_close_connection();
		return -1;
	}
	unsigned char want[CKPT_SH_MAC];
	struct rt_part back[] = { { RT_LITERAL(CKPT_SH_WELCOME_LABEL) }, { a + CKPT_SH_AUTH_NONCE, CKPT_SH_NONCE },
				  { server_nonce, CKPT_SH_NONCE } };
	rt_hmac_sha256((const unsigned char *)rt_sh_token, rt_sh_token_len, back, 3, want);
	if (rt_memcmp(want, rt_sh_buf + CKPT_SH_HEADER + CKPT_SH_WELCOME_MAC, CKPT_SH_MAC))
		rt_remote_fail("the server does not know the job's token (it is not the shadow)");
	rt_remote_gen++;
	rt_sh_seq = 0;
	return 0;
}

static uint64_t rt_now_ms(void)
{
	struct { int64_t sec, nsec; } t = { 0, 0 };
	rt_syscall2(__NR_clock_gettime, CLOCK_MONOTONIC, (long)&t);
	return (uint64_t)t.sec * 1000 + (uint64_t)t.nsec / 1000000;
}

static void rt_connect(int again)
{
	uint64_t deadline = rt_now_ms() + (uint64_t)rt_sh_retry * 1000, wait = 50;
	if (!rt_sh_buf) {
		long m = rt_syscall6(__NR_mmap, 0, RT_SH_BUF, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m < 0 && m > -4096)
			rt_remote_fail("out of memory");
		rt_sh_buf = (unsigned char *)m;
	}
	while (rt_connect_once(again)) {
		if (rt_now_ms() >= deadline)
			rt_remote_fail("unreachable for longer than CKPT_SHADOW_RETRY seconds; giving up");
		struct { int64_t sec, nsec; } ts = { 0, (int64_t)wait * 1000000 };
		rt_syscall2(__NR_nanosleep, (long)&ts, 0);
		wait = wait * 2 > 1000 ? 1000 : wait * 2;
	}
}

static int rt_send_request(const struct rt_request *rq)
{
	unsigned char *h = rt_sh_buf, *p = h + CKPT_SH_HEADER;
	size_t len = CKPT_SH_RQ_SIZE + rq->tail_len + rq->tail2_len;
	if (len > CKPT_SH_MAX_PAYLOAD)
		return -ENAMETOOLONG;
	rt_put_header(h, CKPT_SH_REQUEST, ++rt_sh_seq, (uint32_t)len);
	for (int i = 0; i < CKPT_SH_RQ_SIZE; i++)
		p[i] = 0;
	*(uint32_t *)(p + CKPT_SH_RQ_OP) = rq->op;
	*(uint32_t *)(p + CKPT_SH_RQ_HANDLE) = rq->handle;
	*(uint32_t *)(p + CKPT_SH_RQ_FLAGS) = rq->flags;
	*(uint32_t *)(p + CKPT_SH_RQ_COUNT) = rq->count;
	*(uint64_t *)(p + CKPT_SH_RQ_OFFSET) = rq->offset;
	if (rq->tail_len)
		rt_memcpy(p + CKPT_SH_RQ_SIZE, rq->tail, rq->tail_len);
	if (rq->tail2_len)
		rt_memcpy(p + CKPT_SH_RQ_SIZE + rq->tail_len, rq->tail2, rq->tail2_len);
	return rt_send_all(h, CKPT_SH_HEADER + len);
}

static int rt_op_uses_handle(uint32_t op)
{
	return op == CKPT_SH_OP_CLOSE || op == CKPT_SH_OP_PREAD || op == CKPT_SH_OP_PWRITE || op == CKPT_SH_OP_FSTAT ||
	       op == CKPT_SH_OP_GETDENTS || op == CKPT_SH_OP_FTRUNCATE || op == CKPT_SH_OP_FSYNC || op == CKPT_SH_OP_FCHMOD ||
	       op == CKPT_SH_OP_FCHOWN || op == CKPT_SH_OP_FUTIMENS || op == CKPT_SH_OP_FSTATFS || op == CKPT_SH_OP_FALLOCATE ||
	       op == CKPT_SH_OP_COPY;
}

/* A path operation the lost server may have done already: its second answer means success */
static long rt_repeated(const struct rt_request *rq, long r)
{
	if ((rq->op == CKPT_SH_OP_MKDIR || rq->op == CKPT_SH_OP_SYMLINK || rq->op == CKPT_SH_OP_LINK || rq->op == CKPT_SH_OP_MKNOD) &&
	    r == -EEXIST)
		return 0;
	if ((rq->op == CKPT_SH_OP_UNLINK || rq->op == CKPT_SH_OP_RMDIR || rq->op == CKPT_SH_OP_RENAME) && r == -ENOENT)
		return 0;
	return r;
}

/*
 * One request and its reply. Returns the reply's result, with up to out_max bytes of its data in
 * out; RT_RECONNECTED when the connection had to be made again for a request naming a handle
 * (the caller opens its files again and asks again).
 */
long rt_remote_call(const struct rt_request *rq, void *out, size_t out_max, size_t *out_len)
{
	int resent = 0;
	for (;;) {
		if (rt_remote_fd < 0) {
			rt_connect(rt_remote_gen > 0);
			if (rt_op_uses_handle(rq->op))
				return RT_RECONNECTED;
		}
		int s = rt_send_request(rq);
		if (s == -ENAMETOOLONG)
			return s;
		long len = s ? -1 : rt_recv_frame(CKPT_SH_REPLY, rt_sh_seq);
		if (len < CKPT_SH_RP_SIZE) {
			rt_close_connection();
			resent = 1;
			continue;
		}
		long r = *(int64_t *)(rt_sh_buf + CKPT_SH_HEADER + CKPT_SH_RP_RESULT);
		size_t n = (size_t)len - CKPT_SH_RP_SIZE;
		if (n > out_max)
			n = out_max;
		if (out && n)
			rt_memcpy(out, rt_sh_buf + CKPT_SH_HEADER + CKPT_SH_RP_SIZE, n);
		if (out_len)
			*out_len = n;
		return resent ? rt_repeated(rq, r) : r;
	}
}

/* A request naming one path (with its NUL): OPEN, STAT, MKDIR and the like */
long rt_remote_path_call(uint32_t op, uint32_t flags, uint32_t count, const char *path, void *out, size_t max)
{
	struct rt_request rq = { .op = op, .flags = flags, .count = count, .tail = path, .tail_len = rt_strlen(path) + 1 };
	return rt_remote_call(&rq, out, max, 0);
}

/* Closes a handle of this connection (nothing to answer: a failure leaves nothing open) */
void rt_remote_close(long handle)
{
	struct rt_request rq = { .op = CKPT_SH_OP_CLOSE, .handle = (uint32_t)handle };
	rt_remote_call(&rq, 0, 0, 0);
}

/* The policy's verdict on an absolute job path: the longest matching prefix wins */
int rt_remote_path_is_local(const char *abs)
{
	size_t best = 0;
	int local = 0;
	for (const char *line = rt_sh_policy; *line;) {
		const char *end = line, *prefix;
		while (*end && *end != '\n')
			end++;
		int is_local = rt_starts_with(line, "local ");
		if (is_local || rt_starts_with(line, "remote ")) {
			prefix = line + (is_local ? 6 : 7);
			size_t n = (size_t)(end - prefix);
			while (n > 1 && prefix[n - 1] == '/')
				n--;
			int match = !rt_memcmp(abs, prefix, n) && (n == 1 || abs[n] == 0 || abs[n] == '/');
			if (match && n >= best) {
				best = n;
				local = is_local;
			}
		}
		line = *end ? end + 1 : end;
	}
	return local;
}

/* The policy's remote file for descriptor 0, 1 or 2, or 0 */
const char *rt_remote_stdio(int fd)
{
	static char path[RT_VPATH];
	static const char names[3][8] = { "stdin ", "stdout ", "stderr " };
	for (const char *line = rt_sh_policy; *line;) {
		const char *end = line;
		while (*end && *end != '\n')
			end++;
		if (rt_starts_with(line, names[fd])) {
			const char *p = line + rt_strlen(names[fd]);
			size_t n = (size_t)(end - p) < RT_VPATH - 1 ? (size_t)(end - p) : RT_VPATH - 1;
			rt_memcpy(path, p, n);
			path[n] = 0;
			return path;
		}
		line = *end ? end + 1 : end;
	}
	return 0;
}

void rt_remote_init(char **envp)
{
	const char *where = rt_getenv(envp, "CKPT_SHADOW"), *kind = rt_getenv(envp, "CKPT_SHADOW_KIND");
	const char *retry = rt_getenv(envp, "CKPT_SHADOW_RETRY");
	if (!where || !*where)
		return;
	size_t n = rt_strlen(where);
	rt_memcpy(rt_sh_where, where, n < sizeof rt_sh_where - 1 ? n : sizeof rt_sh_where - 1);
	rt_parse_where(where, rt_getenv(envp, "CKPT_SHADOW_ADDR"));
	rt_read_token(rt_getenv(envp, "CKPT_SHADOW_TOKEN_FILE"));
	if (retry && *retry >= '0' && *retry <= '9')
		for (rt_sh_retry = 0; *retry >= '0' && *retry <= '9'; retry++)
			rt_sh_retry = rt_sh_retry * 10 + (uint32_t)(*retry - '0');
	if (kind && rt_streq(kind, "child"))
		rt_sh_kind = CKPT_SH_KIND_CHILD;
	rt_remote_on = 1;
	if (rt_sh_kind == CKPT_SH_KIND_JOB)
		rt_connect(0);	/* the job's first process: the shadow sees it start (and its policy arrives) */
}

/*
 * The remote state (this connection and its buffer, the virtual file table, the working directory,
 * the runtime's path buffers) is the process's, and its threads make remote calls at once: a lock
 * keeps each remote part whole. It is held only around the runtime's own work and the round trips,
 * never around a local call that may block (rt_remote_local_call drops it meanwhile), and the
 * thread's signals are blocked while it holds it, so that no handler of the program runs there
 * (one making a remote call would wait for itself) and no checkpoint stops a thread holding it (the
 * image never has it held; a restart pokes it free all the same). A fork or vfork is made holding
 * it: the child copies, or borrows, a state no other thread is changing. A vfork child runs under
 * its parent thread's hold until it execs or ends; a forked child frees its copy.
 * The word: 0 free, 1 held, 2 held with waiters (a futex; 8 bytes, for the restorer's poke).
 */
volatile uint64_t rt_remote_lock;
static uint64_t rt_child_mask;	/* the forking thread's mask before the lock, for its child */

static volatile uint32_t *rt_lock_word(void)
{
	return (volatile uint32_t *)&rt_remote_lock;
}

static void rt_lock_take(void)
{
	uint32_t c = 0;
	if (__atomic_compare_exchange_n(rt_lock_word(), &c, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
		return;
	if (c != 2)
		c = __atomic_exchange_n(rt_lock_word(), 2, __ATOMIC_ACQUIRE);
	while (c != 0) {
		rt_syscall4(__NR_futex, (long)rt_lock_word(), FUTEX_WAIT_PRIVATE, 2, 0);
		c = __atomic_exchange_n(rt_lock_word(), 2, __ATOMIC_ACQUIRE);
	}
}

static void rt_lock_give(void)
{
	if (__atomic_exchange_n(rt_lock_word(), 0, __ATOMIC_RELEASE) == 2)
		rt_syscall3(__NR_futex, (long)rt_lock_word(), FUTEX_WAKE_PRIVATE, 1);
}

/* The calling thread works on the remote state until rt_remote_leave (nested: the outermost counts) */
void rt_remote_enter(void)
{
	if (!rt_remote_on)
		return;
	struct rt_thread *self = rt_thread_self();
	if (self->remote_depth++)
		return;
	uint64_t all = ~0ULL;
	rt_syscall4(__NR_rt_sigprocmask, SIG_BLOCK, (long)&all, (long)&self->remote_mask, RT_SIGSET_SIZE);
	if (!self->shared_child)	/* a vfork child: its parent thread holds the lock for it */
		rt_lock_take();
}

void rt_remote_leave(void)
{
	if (!rt_remote_on)
		return;
	struct rt_thread *self = rt_thread_self();
	if (!self->remote_depth || --self->remote_depth)
		return;
	if (!self->shared_child)
		rt_lock_give();
	rt_syscall4(__NR_rt_sigprocmask, SIG_SETMASK, (long)&self->remote_mask, 0, RT_SIGSET_SIZE);
}

/* A call to the kernel from inside the lock, which may block: made without it (and restartable) */
long rt_remote_local_call(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
	struct rt_thread *self = rt_remote_on ? rt_thread_self() : 0;
	uint32_t depth = self ? self->remote_depth : 0;
	if (depth) {
		self->remote_depth = 1;
		rt_remote_leave();
	}
	long r = rt_call_restartable(nr, a1, a2, a3, a4, a5, a6);
	if (depth) {
		rt_remote_enter();
		self->remote_depth = depth;
	}
	return r;
}

/* Before a fork or vfork: the lock taken (rt_remote_leave in the parent when it runs again) */
void rt_remote_before_child(void)
{
	rt_remote_enter();
	if (rt_remote_on)
		rt_child_mask = rt_thread_self()->remote_mask;
}

/* In the new child: the signal mask its parent thread had */
void rt_remote_child_started(void)
{
	if (rt_remote_on)
		rt_syscall4(__NR_rt_sigprocmask, SIG_SETMASK, (long)&rt_child_mask, 0, RT_SIGSET_SIZE);
}

/* A forked child (or the checkpoint's writer): a session of its own, made when it first needs
 * one; the lock, copied as the forking thread held it, is this process's alone now */
void rt_remote_forked(void)
{
	rt_remote_lock = 0;
	rt_close_connection();
	rt_sh_kind = CKPT_SH_KIND_CHILD;
}

/* The job's first process ends: the shadow reports it (status in wait form) */
void rt_remote_exit(long status)
{
	if (!rt_remote_on || rt_sh_kind != CKPT_SH_KIND_JOB || rt_in_shared_child())
		return;
	struct rt_request rq = { .op = CKPT_SH_OP_EXIT, .count = (uint32_t)status };
	rt_remote_enter();
	if (rt_remote_fd >= 0)
		rt_remote_call(&rq, 0, 0, 0);
	rt_remote_leave();
}

/* "CKPT_SHADOW_ADDR=a.b.c.d" for a successor's environment: where this process found the shadow */
const char *rt_remote_addr_env(void)
{
	static char env[40] = "CKPT_SHADOW_ADDR=";
	char *o = env + RT_LITERAL_LEN("CKPT_SHADOW_ADDR=");
	const unsigned char *a = (const unsigned char *)&rt_sh_addr;
	for (int i = 0; i < 4; i++) {
		o = rt_utoa(a[i], o);
		*o++ = i < 3 ? '.' : 0;
	}
	return env;
}

int rt_remote_kind_is_child(void)
{
	return rt_sh_kind == CKPT_SH_KIND_CHILD;
}
