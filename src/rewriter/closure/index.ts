// TEMPORARY (replaced by the closure helper's module): asks the system's ld.so for the closure.
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import { RelinkError } from '../../errors.js';

export interface CarriedObject { name: string; path: string; soname?: string; role: 'interp' | 'needed' | 'with'; neededBy: string[]; bytes: Buffer }
export interface ClosureOptions { libraryPath?: string[]; with?: string[]; cacheFile?: string }
export interface Closure { interp: CarriedObject; objects: CarriedObject[] }

export function resolveClosure(exePath: string, _exe: Buffer, _opts: ClosureOptions = {}): Closure {
  const out = execFileSync('/lib64/ld-linux-x86-64.so.2', ['--list', exePath], { encoding: 'utf8' });
  const objects: CarriedObject[] = [];
  let interp: CarriedObject | undefined;
  for (const line of out.split('\n')) {
    let m = /^\s*(\S+) => (\S+) \(/.exec(line);
    if (m) { objects.push({ name: m[1], path: m[2], role: 'needed', neededBy: [], bytes: fs.readFileSync(m[2]) }); continue; }
    m = /^\s*(\/\S+) \(/.exec(line);
    if (m) interp = { name: m[1], path: m[1], role: 'interp', neededBy: [], bytes: fs.readFileSync(m[1]) };
  }
  if (!interp) throw new RelinkError('EDYNAMIC', 'no interpreter');
  return { interp, objects };
}
