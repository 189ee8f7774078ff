// How Node must run our commands. Node 20 can hang for ever at exit (nodejs/node#54918): exit
// joins the platform's worker threads while a concurrent TurboFan job on one of them waits for a
// garbage collection only the main thread can do. Seen here about once in 300 relinks of a small
// sample (gdb: the main thread in NodePlatform::Shutdown, a worker in
// CollectionBarrier::AwaitCollectionBackground). `--single-threaded` takes compilation and GC off
// the worker threads, so there is nothing to wait for; it costs nothing measurable (busybox relinks
// in 0.97-1.28 s with it, 1.36-1.52 s without, on 2 cores). The V8 flag must be given at start-up
// (it decides which threads exist), so every command's `#!` line carries it, and whatever starts a
// command through `node` passes these flags (test/cli/help.test.ts checks the `#!` lines).
export const CLI_NODE_FLAGS: readonly string[] = ['--single-threaded'];

/** The argv that runs command file `cli` with `args` under this Node, flags first */
export function nodeCommand(cli: string, args: readonly string[]): [string, string[]] {
  return [process.execPath, [...CLI_NODE_FLAGS, cli, ...args]];
}
