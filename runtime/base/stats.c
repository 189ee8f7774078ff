/*
 * CKPT_STATS=FILE: per-number counts of the program's system calls. Each process image appends one
 * JSON line when it exits or execs, in a single write so that concurrent processes never mix.
 */
#include "base/base.h"


uint64_t rt_counts[RT_NR_MAX];
uint64_t rt_count_other;	/* numbers >= RT_NR_MAX (the kernel rejects them) */
uint64_t rt_trapped;		/* calls that came through the SUD net */
static char rt_stats_path[RT_PATH_MAX];
static int rt_stats_on;
static char rt_line[RT_NR_MAX * 28 + 256];

void rt_stats_init(char **envp)
{
	const char *p = rt_getenv(envp, "CKPT_STATS");
	if (!p || !*p || rt_absolute_path(rt_stats_path, p) < 0)
		return;
	rt_stats_on = 1;
}

void rt_stats_reset(void)
{
	for (int i = 0; i < RT_NR_MAX; i++)
		rt_counts[i] = 0;
	rt_count_other = 0;
	rt_trapped = 0;
}

static char *rt_put_field(char *o, const char *key, uint64_t v)
{
	o = rt_put(o, key);
	return rt_utoa(v, o);
}

void rt_stats_flush(const char *end)
{
	uint64_t total = rt_count_other;
	char *o = rt_line;
	if (!rt_stats_on)
		return;
	for (int i = 0; i < RT_NR_MAX; i++)
		total += rt_counts[i];
	o = rt_put_field(o, "{\"pid\":", (uint64_t)rt_syscall0(__NR_getpid));
	o = rt_put(rt_put(rt_put(o, ",\"end\":\""), end), "\"");
	o = rt_put_field(o, ",\"patched\":", total - rt_trapped);
	o = rt_put_field(o, ",\"trapped\":", rt_trapped);
	o = rt_put_field(o, ",\"other\":", rt_count_other);
	o = rt_put(o, ",\"by_number\":{");
	const char *sep = "\"";
	for (int i = 0; i < RT_NR_MAX; i++) {
		if (!rt_counts[i])
			continue;
		o = rt_put(rt_utoa((uint64_t)i, rt_put(o, sep)), "\":");
		o = rt_utoa(rt_counts[i], o);
		sep = ",\"";
	}
	o = rt_put(o, "}}\n");
	long fd = rt_syscall4(__NR_openat, AT_FDCWD, (long)rt_stats_path,
			      O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	rt_write_all((int)fd, rt_line, (size_t)(o - rt_line));
	rt_syscall1(__NR_close, fd);
}
