/*
 * Where the process stands: its working directory, which a restart checks before anything changes
 * and enters again, and the executable it ran (recorded for ckpt-inspect; the restart runs
 * whatever binary restarts it, checked by its binary id instead).
 */
#include "ckpt/save.h"
#include "ckpt/restore.h"

int rt_save_cwd_and_exe(struct rt_ckpt_work *w)
{
	long len = rt_syscall2(__NR_getcwd, (long)w->linkbuf, RT_PATH_MAX);
	if (len > 0 && rt_record_string(w, CKPT_REC_CWD, w->linkbuf, (size_t)len - 1))
		return -1;
	len = rt_syscall4(__NR_readlinkat, AT_FDCWD, (long)"/proc/thread-self/exe", (long)w->linkbuf, RT_PATH_MAX - 1);
	if (len > 0 && rt_record_string(w, CKPT_REC_EXE, w->linkbuf, (size_t)len))
		return -1;
	return 0;
}

/* The working directory must still exist: checked before anything changes */
void rt_check_cwd(const struct rt_image *im)
{
	if (!im->cwd)
		return;
	long fd = rt_syscall4(__NR_openat, AT_FDCWD, (long)im->cwd, O_PATH | O_DIRECTORY, 0);
	if (fd < 0)
		rt_refuse_path(im, "the working directory is gone: ", (const char *)im->cwd);
	rt_syscall1(__NR_close, fd);
}

void rt_restore_cwd(const struct rt_image *im)
{
	if (im->cwd)
		rt_syscall1(__NR_chdir, (long)im->cwd);
}
