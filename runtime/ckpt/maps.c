/* /proc/self/maps, parsed: the memory regions a checkpoint saves and a restart tears down. */
#include "ckpt/ckpt.h"

static const char *rt_hex(const char *s, uint64_t *v)
{
	uint64_t x = 0;
	for (;; s++) {
		unsigned d = (unsigned char)*s;
		if (d >= '0' && d <= '9')
			d -= '0';
		else if (d >= 'a' && d <= 'f')
			d -= 'a' - 10;
		else
			break;
		x = x << 4 | d;
	}
	*v = x;
	return s;
}

static const char *rt_skip_field(const char *s)
{
	while (*s && *s != ' ' && *s != '\n')
		s++;
	while (*s == ' ')
		s++;
	return s;
}

static const char *rt_decimal(const char *s, uint64_t *v)
{
	uint64_t x = 0;
	for (; *s >= '0' && *s <= '9'; s++)
		x = x * 10 + (uint64_t)(*s - '0');
	*v = x;
	return s;
}

/* "major:minor" in hex, encoded as stat's st_dev is (the kernel's new_encode_dev) */
static const char *rt_device(const char *s, uint64_t *dev)
{
	uint64_t major, minor;
	s = rt_hex(s, &major);
	s = rt_hex(s + (*s == ':'), &minor);
	*dev = (minor & 0xff) | (major << 8) | ((minor & ~0xffULL) << 12);
	return s;
}

/* One line: "start-end perms offset dev inode   path" */
const char *rt_parse_map(const char *s, struct rt_map *m)
{
	s = rt_hex(s, &m->start) + 1;
	s = rt_hex(s, &m->end) + 1;
	m->prot = (s[0] == 'r' ? 1 : 0) | (s[1] == 'w' ? 2 : 0) | (s[2] == 'x' ? 4 : 0);
	m->shared = s[3] == 's';
	s = rt_skip_field(s);
	s = rt_hex(s, &m->offset);
	s = rt_skip_field(s);	/* to the device */
	rt_device(s, &m->dev);
	s = rt_skip_field(s);	/* to the inode */
	rt_decimal(s, &m->inode);
	s = rt_skip_field(s);	/* to the path, if any */
	size_t n = 0;
	while (*s && *s != '\n') {
		if (n + 1 < sizeof m->path)
			m->path[n++] = *s;
		s++;
	}
	m->path[n] = 0;
	return *s ? s + 1 : s;
}

/* Reads and parses the maps into out[]; returns the count, or -errno. buf is scratch space. */
long rt_read_maps(struct rt_map *out, long max, char *buf, size_t size)
{
	long used = rt_read_file("/proc/thread-self/maps", buf, size);
	if (used < 0)
		return -ENOENT;	/* no /proc */
	if ((size_t)used + 1 >= size)
		return -EOVERFLOW;	/* more regions than the buffer holds */
	long count = 0;
	for (const char *s = buf; *s && count < max; count++)
		s = rt_parse_map(s, &out[count]);
	return count;
}

/* The kernel's own mappings, which images never carry: their role, or CKPT_ROLE_MEMORY */
uint32_t rt_map_role(const struct rt_map *m)
{
	if (rt_streq(m->path, "[vvar]"))
		return CKPT_ROLE_VVAR;
	if (rt_streq(m->path, "[vvar_vclock]"))
		return CKPT_ROLE_VVAR_VCLOCK;
	if (rt_streq(m->path, "[vdso]"))
		return CKPT_ROLE_VDSO;
	return CKPT_ROLE_MEMORY;
}

int rt_map_is_vsyscall(const struct rt_map *m)
{
	return rt_streq(m->path, "[vsyscall]");
}
