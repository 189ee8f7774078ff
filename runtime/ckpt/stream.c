/*
 * Images through a command: CKPT_IMAGE='|CMD' gives every checkpoint's image to `/bin/sh -c CMD` on
 * its stdin (zstd, ssh, an object-store uploader), and CKPT_RESTART='CMD|' restarts from the image
 * CMD writes to its stdout. The writer gives the command the bytes a file would hold, front to back
 * (writer.c: a checksum pass over the snapshot, then a writing pass), so the image is never staged
 * whole. A writer that fails part way kills the command before its stdin ends, and a writer that
 * dies takes it along (its parent-death signal), so `|zstd > x.part && mv x.part x` never puts half
 * an image in place. A restart reads the command's whole output into a memfd
 * and restarts from that, with every check a file gets, so a truncated or damaged stream is refused
 * before anything is torn down.
 *
 * The command runs with the environment the program started with and no signal blocked. Its exit
 * status is the checkpoint's: not 0, and the checkpoint failed (a vacate then does not exit 85).
 */
#include "ckpt/save.h"

#define RT_PIPE_CHUNK	(1UL << 20)

static char **rt_stream_envp;

void rt_stream_environment(char **envp)
{
	rt_stream_envp = envp;
}

/* `/bin/sh -c CMD` with its stdin (to_command) or stdout (!to_command) on a pipe; our end, or -errno */
long rt_command_start(const char *cmd, int to_command, long *pid)
{
	int ends[2];
	long r = rt_syscall2(__NR_pipe2, (long)ends, O_CLOEXEC);
	if (r < 0)
		return r;
	int theirs = to_command ? ends[0] : ends[1], ours = to_command ? ends[1] : ends[0];
	*pid = rt_syscall5(__NR_clone, 0 /* no SIGCHLD: the program's wait() never sees it */, 0, 0, 0, 0);
	if (*pid == 0) {
		uint64_t none = 0;
		const char *argv[] = { "sh", "-c", cmd, 0 };
		char *empty_env[] = { 0 };
		rt_syscall4(__NR_rt_sigprocmask, SIG_SETMASK, (long)&none, 0, RT_SIGSET_SIZE);
		if (to_command)	/* a writer that dies part way takes the shell with it: no `&& mv` of half an image */
			rt_syscall2(__NR_prctl, PR_SET_PDEATHSIG, SIGKILL);
		rt_syscall2(__NR_dup2, theirs, to_command ? 0 : 1);	/* dup2 clears O_CLOEXEC */
		rt_syscall3(__NR_execve, (long)"/bin/sh", (long)argv, (long)(rt_stream_envp ? rt_stream_envp : empty_env));
		rt_exit(127);
	}
	rt_syscall1(__NR_close, theirs);
	rt_syscall3(__NR_fcntl, ours, F_SETPIPE_SZ, RT_PIPE_CHUNK);	/* fewer switches between the two ends; best effort */
	if (*pid < 0) {
		rt_syscall1(__NR_close, ours);
		return *pid;
	}
	return ours;
}

/* The command's exit: 0, or -EIO when it failed or was killed */
long rt_command_status(long pid)
{
	int status = 0;
	long r;
	do
		r = rt_syscall4(__NR_wait4, pid, (long)&status, __WALL /* exec made it a SIGCHLD child */, 0);
	while (r == -EINTR);
	return r < 0 || status ? -EIO : 0;
}

/* `CMD|`: the command's whole stdout in a memfd; its /proc/self/fd path */
static const char *rt_image_from_command(const char *spec)
{
	static char path[32];
	static char cmd[4096];
	size_t len = rt_strlen(spec) - 1;
	if (!len || len >= sizeof cmd)
		rt_cannot_restart(spec, "no command, or a command too long");
	rt_memcpy(cmd, spec, len);
	cmd[len] = 0;
	long memfd = rt_syscall2(__NR_memfd_create, (long)"ckpt-restart", MFD_CLOEXEC);
	long buf = rt_syscall6(__NR_mmap, 0, RT_PIPE_CHUNK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	long pid, fd = memfd < 0 || (buf < 0 && buf > -4096) ? -ENOMEM : rt_command_start(cmd, 0, &pid);
	if (fd < 0)
		rt_cannot_restart(spec, "cannot start the command");
	uint64_t total = 0;
	for (;;) {
		long n = rt_syscall3(__NR_read, fd, buf, RT_PIPE_CHUNK);
		if (n == -EINTR)
			continue;
		if (n < 0)
			rt_cannot_restart(spec, "cannot read the command's output");
		if (n == 0)
			break;
		if (rt_write_all((int)memfd, (const char *)buf, (size_t)n) < 0)
			rt_cannot_restart(spec, "no memory for the image");
		total += (uint64_t)n;
	}
	rt_syscall1(__NR_close, fd);
	rt_syscall2(__NR_munmap, buf, RT_PIPE_CHUNK);
	if (rt_command_status(pid) < 0)
		rt_cannot_restart(spec, "the command failed");
	if (!total)
		rt_cannot_restart(spec, "the command gave no image");
	return rt_fd_path(path, memfd);
}

/* CKPT_RESTART's value as a path the restorer reads: `CMD|` and shadow:NAME are fetched first */
const char *rt_restart_source(const char *spec)
{
	size_t len = rt_strlen(spec);
	if (len && spec[len - 1] == '|')
		return rt_image_from_command(spec);
	return rt_image_source(spec);
}
