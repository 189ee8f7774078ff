// One thread of the lookup pool (lookup-pool.ts): makes each lookup it is sent with synchronous
// calls (lookup.ts) and posts the answer back, or the errno name of the call that failed.
import { parentPort } from 'node:worker_threads';
import { lookupNow } from './lookup.js';
import type { WorkerAnswer, WorkerRequest } from './lookup-pool.js';

parentPort!.on('message', (r: WorkerRequest) => {
  let reply: WorkerAnswer;
  try {
    reply = { id: r.id, ...lookupNow(r.request) };
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    reply = { id: r.id, code: err.code ?? 'EIO', message: err.message };
  }
  parentPort!.postMessage(reply);
});
