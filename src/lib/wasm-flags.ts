// V8 compiles WebAssembly twice: quickly (Liftoff), then again in the background (TurboFan) for
// hot functions. On Node 20, a process whose work is done can wait forever at exit for that
// background tier-up (seen here: a relink that had written its output hung in
// NodePlatform::DrainTasks). capstone-wasm and keystone-wasm are fast enough without tier-up
// (busybox relinks in the same 1.5-1.8 s either way, measured), so it is turned off before either
// module is compiled.
import v8 from 'node:v8';

v8.setFlagsFromString('--no-wasm-tier-up');
v8.setFlagsFromString('--no-wasm-dynamic-tiering');
