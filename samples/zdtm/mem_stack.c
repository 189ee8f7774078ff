/*
 * mem_stack: the stack survives. A chain of 200 frames, each holding a 1 KiB pattern of its own
 * (one of them a 512 KiB frame, so the stack has grown well past its first pages), blocks at its
 * deepest point; after the restart each frame, unwinding, finds its pattern intact and its
 * return address still good.
 */
#include "zdtm.h"

#define DEPTH 200
#define BIG_FRAME_AT 120
#define BIG_FRAME (512 * 1024)

static unsigned char frame_byte(int depth, int j) { return (unsigned char)(depth * 29 + j * 3 + 7); }

static void check_frame(const volatile unsigned char *local, int size, int depth)
{
	for (int j = 0; j < size; j++)
		zdtm_check(local[j] == frame_byte(depth, j), "frame %d byte %d is %#x, not %#x",
			depth, j, local[j], frame_byte(depth, j));
}

__attribute__((noinline)) static int descend_big(int depth);

/* Returns the depth reached, so that no call here is a tail call and every frame stays */
__attribute__((noinline)) static int descend(int depth)
{
	volatile unsigned char local[1024];
	for (int j = 0; j < (int)sizeof local; j++)
		local[j] = frame_byte(depth, j);
	int reached;
	if (depth == DEPTH) {
		zdtm_ready();
		zdtm_wait();
		reached = depth;
	} else {
		reached = depth + 1 == BIG_FRAME_AT ? descend_big(depth + 1) : descend(depth + 1);
	}
	check_frame(local, sizeof local, depth);
	return reached;
}

__attribute__((noinline)) static int descend_big(int depth)
{
	volatile unsigned char local[BIG_FRAME];
	for (int j = 0; j < BIG_FRAME; j++)
		local[j] = frame_byte(depth, j);
	int reached = descend(depth + 1);
	check_frame(local, BIG_FRAME, depth);
	return reached;
}

int main(void)
{
	zdtm_check(descend(1) == DEPTH, "the chain of frames came back short");
	zdtm_pass();
}
