/*
 * This process as the runtime knows it: where the program was loaded, whether the SUD net is armed,
 * which kind of child it is. Written at start, at a fork and by the restorer; read everywhere.
 */
#include "base/base.h"

uint64_t rt_load_bias;
uint64_t rt_entry_target;
long rt_sud_on;
/* The SUD selector: always "block", since the runtime's own calls are in the allowed region */
volatile uint8_t rt_sud_selector = SYSCALL_DISPATCH_FILTER_BLOCK;

int32_t rt_threads = 1;
uint8_t rt_child_shares_memory;
volatile uint64_t rt_restarted;
volatile uint64_t rt_restart_released;

/*
 * Arm the Syscall User Dispatch net: a syscall instruction anywhere but the runtime's text raises
 * SIGSYS, which rt_sigsys turns into a dispatched call. Called at start and in every new child.
 */
void rt_arm_sud(void)
{
	if (!rt_sud_on)
		return;
	long r = rt_syscall6(__NR_prctl, PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_ON,
			     (long)(rt_config.rt_text + rt_load_bias), (long)rt_config.rt_text_size,
			     (long)&rt_sud_selector, 0);
	if (r < 0 && r != -EINVAL /* a kernel without SUD: patched sites still work */)
		rt_die("ckpt runtime: cannot arm syscall user dispatch\n");
}
