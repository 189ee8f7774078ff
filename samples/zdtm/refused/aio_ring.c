/*
 * aio_ring: an AIO context (io_setup, CRIU's aio00), whose ring the kernel maps MAP_SHARED into
 * the process ("/[aio] (deleted)"). It cannot be made again at its address: the checkpoint
 * warns, and a restart refuses the image, naming the mapping.
 */
#include "../zdtm.h"	/* first: it defines _GNU_SOURCE */
#include <linux/aio_abi.h>
#include <sys/syscall.h>

int main(void)
{
	aio_context_t ctx = 0;
	zdtm_check(syscall(SYS_io_setup, 16, &ctx) == 0, "io_setup: %s", strerror(errno));
	zdtm_ready();
	zdtm_wait();
	zdtm_pass();
}
