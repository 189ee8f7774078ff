// Where the toolchain finds its own parts, relative to this module (dist/src/paths.js).
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const RUNTIME_OBJECT = path.join(PROJECT_ROOT, 'build/runtime.o');
