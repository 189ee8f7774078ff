// npm pack and npm publish run this, then `prepare` (the full build), then write the tarball.
// Neither tool deletes an output whose sources are gone: tsc leaves the .js of a module renamed or
// removed in dist/src, and make does not relink build/runtime.o when a runtime source is only
// deleted. Starting both empty makes the tarball hold exactly what the current sources build to.
// A pack costs a full build (seconds for the runtime, about half a minute for tsc here); a
// tarball a user installs without gcc or TypeScript can only be as right as that build.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
fs.rmSync(path.join(root, 'dist/src'), { recursive: true, force: true });
execFileSync('make', ['-s', '-C', path.join(root, 'runtime'), 'clean'], { stdio: 'inherit' });
