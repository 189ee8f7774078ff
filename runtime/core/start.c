/* Runtime start: runs once before the program's own entry, on the kernel's initial stack. */
#include "core/core.h"

/* The config block's policy, unless CKPT_SUD=on|off|auto says otherwise */
static int rt_sud_wanted(char **envp)
{
	const char *v = rt_getenv(envp, "CKPT_SUD");
	uint32_t f = rt_config.flags;
	if (v && rt_streq(v, "on"))
		return 1;
	if (v && rt_streq(v, "off"))
		return 0;
	if (!v || !rt_streq(v, "auto")) {
		if (f & CKPT_FLAG_SUD_ALWAYS)
			return 1;
		if (f & CKPT_FLAG_SUD_NEVER)
			return 0;
	}
	return (f & CKPT_FLAG_SUD_NEEDED) != 0;
}

void rt_init(struct rt_ctx *regs, uint64_t *initial_sp)
{
	(void)regs;
	if (rt_config.magic != CKPT_CONFIG_MAGIC || rt_config.version != CKPT_CONFIG_VERSION)
		rt_die("ckpt runtime: bad config block (file damaged?)\n");
	rt_load_bias = (uint64_t)&rt_config - rt_config.self_vaddr;
	rt_entry_target = rt_config.orig_entry + rt_load_bias;

	long argc = (long)initial_sp[0];
	char **envp = (char **)(initial_sp + 1 + argc + 1);
	rt_sud_on = rt_sud_wanted(envp);
	rt_pids_init();
	rt_remote_init(envp);
	const char *restart = rt_getenv(envp, "CKPT_RESTART");
	/* a dynamic program may have loaded code that was not carried before its checkpoint (the net
	 * was then armed, and its SIGSYS handler is in the image): a restart arms it in any case */
	if (restart && *restart && rt_config.carried_count)
		rt_sud_on = 1;
	if (restart && *restart)
		rt_restart(rt_restart_source(restart), restart, envp);
	rt_vfiles_init(envp);
	rt_stats_init(envp);
	rt_sud_signals_init();
	rt_checkpoint_init(envp);
	rt_loader_start(initial_sp);	/* a dynamic program: ld.so mapped, the entry is now its */
	rt_arm_sud();
}
