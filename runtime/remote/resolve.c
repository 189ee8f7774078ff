/*
 * The shadow's host as CKPT_SHADOW names it, the way a C library would find it, less what a
 * static freestanding runtime cannot do (NSS modules, IPv6): a dotted IPv4 address, else the first
 * line of /etc/hosts that names it, else an A query over UDP to the nameservers of
 * /etc/resolv.conf, with its search list, ndots, timeout and attempts options. Names are resolved
 * when a relinked process starts (an exec'd one too) and when a process is restarted, so a restart
 * on another machine reaches the shadow as that machine's resolver says.
 */
#include "remote/remote.h"

/* RFC 1035's numbers (no header of the kernel's has them) */
#define RT_DNS_RECURSION_DESIRED	0x01	/* high byte of the header's flags */
#define RT_DNS_TYPE_A			1
#define RT_DNS_CLASS_IN			1

static const char *rt_parse_u8(const char *s, uint32_t *v)
{
	uint32_t n = 0;
	const char *start = s;
	while (*s >= '0' && *s <= '9' && s - start < 4)
		n = n * 10 + (uint32_t)(*s++ - '0');
	*v = n;
	return s == start || n > 255 ? 0 : s;
}

/* A dotted IPv4 address, up to the end or a ':' ; 0 when it is not one */
static int rt_parse_ipv4(const char *s, uint32_t *addr)
{
	uint32_t a = 0, part;
	for (int i = 0; i < 4; i++) {
		if (!(s = rt_parse_u8(s, &part)) || (i < 3 && *s++ != '.'))
			return 0;
		a |= part << (8 * i);
	}
	*addr = a;
	return *s == 0 || *s == ':';
}

/* The address of the first line of /etc/hosts naming HOST */
static int rt_lookup_hosts(const char *host, size_t len, uint32_t *addr)
{
	static char text[16384];
	if (rt_read_file("/etc/hosts", text, sizeof text) <= 0)
		return 0;
	for (char *line = text; *line;) {
		char *end = line, *p = line;
		uint32_t a;
		while (*end && *end != '\n')
			end++;
		while (p < end && *p != ' ' && *p != '\t')
			p++;
		char saved = *p;
		*p = 0;
		int ok = rt_parse_ipv4(line, &a);
		*p = saved;
		while (ok && p < end && *p != '#') {
			while (p < end && (*p == ' ' || *p == '\t'))
				p++;
			char *name = p;
			while (p < end && *p != ' ' && *p != '\t' && *p != '#')
				p++;
			if ((size_t)(p - name) == len && !rt_memcmp(name, host, len)) {
				*addr = a;
				return 1;
			}
		}
		line = *end ? end + 1 : end;
	}
	return 0;
}


/* resolv.conf, as much of it as the runtime uses */
struct rt_resolv {
	uint32_t ns[3];
	int nns, ndots, timeout_ms, attempts;
	char search[6][254];
	int nsearch;
};

/* The next word of a line: its start, and *end past it */
static char *rt_word(char *p, char *line_end, char **end)
{
	while (p < line_end && (*p == ' ' || *p == '\t'))
		p++;
	char *e = p;
	while (e < line_end && *e != ' ' && *e != '\t')
		e++;
	*end = e;
	return p;
}

static int rt_option(const char *w, size_t n, const char *name, int *value, int max)
{
	size_t k = rt_strlen(name);
	if (n <= k || rt_memcmp(w, name, k))
		return 0;
	int v = 0;
	for (size_t i = k; i < n && w[i] >= '0' && w[i] <= '9'; i++)
		v = v * 10 + (w[i] - '0');
	*value = v > max ? max : v;
	return 1;
}

/* The KEY of LEN bytes (not NUL-terminated) is WORD */
static int rt_key_is(const char *key, size_t len, const char *word)
{
	return len == rt_strlen(word) && !rt_memcmp(key, word, len);
}

static void rt_read_resolv(struct rt_resolv *r)
{
	static char text[8192];
	*r = (struct rt_resolv){ .ndots = 1, .timeout_ms = 5000, .attempts = 2 };
	if (rt_read_file("/etc/resolv.conf", text, sizeof text) < 0)
		text[0] = 0;
	for (char *line = text; *line;) {
		char *end = line, *w, *we;
		while (*end && *end != '\n')
			end++;
		char *key = rt_word(line, end, &we);
		size_t klen = (size_t)(we - key);
		if (rt_key_is(key, klen, "nameserver")) {
			w = rt_word(we, end, &we);
			char saved = *we;
			*we = 0;
			if (r->nns < 3 && rt_parse_ipv4(w, &r->ns[r->nns]))
				r->nns++;
			*we = saved;
		} else if (rt_key_is(key, klen, "search") || rt_key_is(key, klen, "domain")) {
			r->nsearch = 0;	/* the last of them wins, as in glibc */
			for (w = rt_word(we, end, &we); w < we && r->nsearch < 6; w = rt_word(we, end, &we))
				if ((size_t)(we - w) < sizeof r->search[0]) {
					rt_memcpy(r->search[r->nsearch], w, (size_t)(we - w));
					r->search[r->nsearch++][we - w] = 0;
				}
		} else if (rt_key_is(key, klen, "options")) {
			for (w = rt_word(we, end, &we); w < we; w = rt_word(we, end, &we)) {
				int v;
				if (rt_option(w, (size_t)(we - w), "ndots:", &v, 15))
					r->ndots = v;
				else if (rt_option(w, (size_t)(we - w), "timeout:", &v, 30))
					r->timeout_ms = (v ? v : 1) * 1000;
				else if (rt_option(w, (size_t)(we - w), "attempts:", &v, 5))
					r->attempts = v ? v : 1;
			}
		}
		line = *end ? end + 1 : end;
	}
	if (r->nns == 0)	/* none given: the local one, as glibc assumes */
		r->ns[r->nns++] = 0x0100007f;
}

/* A query for the A record of NAME (no trailing dot) in q; its length, or 0 if NAME cannot be one */
static size_t rt_dns_query(unsigned char *q, uint16_t id, const char *name)
{
	size_t at = 12, n = rt_strlen(name);
	if (n == 0 || n > 253)
		return 0;
	const unsigned char header[12] = { (unsigned char)(id >> 8), (unsigned char)id, RT_DNS_RECURSION_DESIRED, 0, 0, 1 };
	rt_memcpy(q, header, 12);
	for (const char *label = name; *label;) {
		const char *dot = label;
		while (*dot && *dot != '.')
			dot++;
		size_t len = (size_t)(dot - label);
		if (len == 0 || len > 63)
			return 0;
		q[at++] = (unsigned char)len;
		rt_memcpy(q + at, label, len);
		at += len;
		label = *dot ? dot + 1 : dot;
	}
	const unsigned char tail[5] = { 0, 0, RT_DNS_TYPE_A, 0, RT_DNS_CLASS_IN };
	rt_memcpy(q + at, tail, 5);
	return at + 5;
}

/* Past a (possibly compressed) name at p in a message of n bytes; 0 when it runs off the end */
static size_t rt_dns_skip_name(const unsigned char *m, size_t n, size_t p)
{
	while (p < n) {
		if (m[p] == 0)
			return p + 1;
		if ((m[p] & 0xc0) == 0xc0)
			return p + 2 <= n ? p + 2 : 0;
		p += 1 + m[p];
	}
	return 0;
}

enum rt_dns_answer { RT_DNS_FOUND, RT_DNS_NO_NAME, RT_DNS_TRY_NEXT };

/* The first A record of an answer to query ID */
static enum rt_dns_answer rt_dns_parse(const unsigned char *m, size_t n, uint16_t id, uint32_t *addr)
{
	if (n < 12 || ((m[0] << 8) | m[1]) != id || !(m[2] & 0x80))
		return RT_DNS_TRY_NEXT;
	int rcode = m[3] & 15;
	if (rcode == 3)
		return RT_DNS_NO_NAME;
	if (rcode != 0)
		return RT_DNS_TRY_NEXT;
	unsigned qd = (unsigned)(m[4] << 8 | m[5]), an = (unsigned)(m[6] << 8 | m[7]);
	size_t p = 12;
	for (unsigned i = 0; i < qd && p; i++)
		p = (p = rt_dns_skip_name(m, n, p)) ? p + 4 : 0;
	for (unsigned i = 0; i < an && p && p + 10 <= n; i++) {
		if (!(p = rt_dns_skip_name(m, n, p)) || p + 10 > n)
			break;
		unsigned type = (unsigned)(m[p] << 8 | m[p + 1]), class = (unsigned)(m[p + 2] << 8 | m[p + 3]);
		size_t rdlen = (size_t)(m[p + 8] << 8 | m[p + 9]);
		p += 10;
		if (p + rdlen > n)
			break;
		if (type == 1 && class == 1 && rdlen == 4) {	/* CNAMEs before it are passed over */
			rt_memcpy(addr, m + p, 4);
			return RT_DNS_FOUND;
		}
		p += rdlen;
	}
	return RT_DNS_NO_NAME;	/* the name is there, without an address */
}

/* One query to one nameserver, waiting up to timeout_ms for its answer */
static enum rt_dns_answer rt_dns_ask(uint32_t ns, const unsigned char *q, size_t qlen, uint16_t id, int timeout_ms, uint32_t *addr)
{
	struct { uint16_t family, port; uint32_t addr; uint8_t zero[8]; } sa = { 2, 0x3500 /* 53 */, ns, { 0 } };
	long fd = rt_syscall3(__NR_socket, RT_AF_INET, RT_SOCK_DGRAM | RT_SOCK_CLOEXEC, 0);
	if (fd < 0)
		return RT_DNS_TRY_NEXT;
	enum rt_dns_answer got = RT_DNS_TRY_NEXT;
	if (rt_syscall3(__NR_connect, fd, (long)&sa, sizeof sa) == 0 &&
	    rt_syscall6(__NR_sendto, fd, (long)q, (long)qlen, 0, 0, 0) == (long)qlen) {
		static unsigned char m[1232];
		struct { int32_t fd; int16_t events, revents; } pfd = { (int32_t)fd, POLLIN, 0 };
		while (got == RT_DNS_TRY_NEXT) {
			long r = rt_syscall3(__NR_poll, (long)&pfd, 1, timeout_ms);
			if (r == -EINTR)
				continue;
			if (r <= 0)
				break;
			long len = rt_syscall6(__NR_recvfrom, fd, (long)m, sizeof m, 0, 0, 0);
			if (len <= 0)
				break;
			got = rt_dns_parse(m, (size_t)len, id, addr);
			if (got == RT_DNS_TRY_NEXT && len >= 2 && ((m[0] << 8) | m[1]) != id)
				continue;	/* not ours: a late answer to an earlier query */
			break;
		}
	}
	rt_syscall1(__NR_close, fd);
	return got;
}

/* NAME through DNS: each nameserver in turn, attempts times; 1 when found */
static int rt_dns_name(const struct rt_resolv *r, const char *name, uint32_t *addr)
{
	unsigned char q[300];
	for (int a = 0; a < r->attempts; a++)
		for (int i = 0; i < r->nns; i++) {
			uint16_t id;
			rt_syscall3(__NR_getrandom, (long)&id, sizeof id, 0);
			size_t qlen = rt_dns_query(q, id, name);
			if (!qlen)
				return 0;
			enum rt_dns_answer got = rt_dns_ask(r->ns[i], q, qlen, id, r->timeout_ms, addr);
			if (got != RT_DNS_TRY_NEXT)
				return got == RT_DNS_FOUND;
		}
	return 0;
}

/* HOST (LEN bytes) through DNS, with the search list: as is first when it has ndots dots */
static int rt_dns_lookup(const char *host, size_t len, uint32_t *addr)
{
	static struct rt_resolv r;
	char name[254];
	int dots = 0;
	if (len == 0 || len >= sizeof name)
		return 0;
	rt_read_resolv(&r);
	for (size_t i = 0; i < len; i++)
		dots += host[i] == '.';
	rt_memcpy(name, host, len);
	name[len] = 0;
	if (host[len - 1] == '.') {	/* absolute: no search list */
		name[len - 1] = 0;
		return rt_dns_name(&r, name, addr);
	}
	if (dots >= r.ndots && rt_dns_name(&r, name, addr))
		return 1;
	for (int i = 0; i < r.nsearch; i++) {
		char full[254];
		size_t d = rt_strlen(r.search[i]);
		if (len + 1 + d >= sizeof full)
			continue;
		rt_memcpy(full, name, len);
		full[len] = '.';
		rt_memcpy(full + len + 1, r.search[i], d + 1);
		if (rt_dns_name(&r, full, addr))
			return 1;
	}
	return dots < r.ndots && rt_dns_name(&r, name, addr);
}

int rt_resolve(const char *host, size_t len, uint32_t *addr)
{
	return rt_parse_ipv4(host, addr) || rt_lookup_hosts(host, len, addr) || rt_dns_lookup(host, len, addr);
}
