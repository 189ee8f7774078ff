// A full-screen editor checkpointed in one terminal and restarted in another: busybox vi, relinked,
// runs in a tmux pane (80x24); a few lines are typed, it is checkpointed and killed, and the image is
// restarted in a new window, on a different pseudo-terminal. The restarted vi takes that terminal
// over: raw mode exactly as vi had set it, the screen redrawn with the typed lines (the runtime
// sends it SIGWINCH; Ctrl-L is only tried afterwards, to say what is missing), typing goes on, `:wq`
// writes every line typed before and after, and the terminal is left in cooked mode.
//
// Each step that goes wrong is collected, and the scenario goes on as far as it can, so that one run
// names everything that does not work yet; the test fails if anything was collected.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { relinkFile, scratch, waitFor } from '../helpers.js';
import { blockedArgs, blockedIn, received } from '../process.js';
import { Tmux } from '../tmux.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const __NR_POLL = 7;
const BEFORE = ['alpha one', 'beta two', 'gamma three'];
const AFTER = ['delta four'];

/** The terminal's settings as `stty -g` and as `stty -a` words (icanon, -echo...) */
async function ttySettings(tty: string): Promise<{ g: string; words: Set<string> }> {
  const g = (await execa('stty', ['-g', '-F', tty], { timeout: 10_000 })).stdout.trim();
  const words = new Set((await execa('stty', ['-a', '-F', tty], { timeout: 10_000 })).stdout.split(/[\s;]+/));
  return { g, words };
}

const isRaw = (w: Set<string>) => w.has('-icanon') && w.has('-echo');
const isCooked = (w: Set<string>) => w.has('icanon') && w.has('echo');
const showsLines = (lines: string[]) => (screen: string) => screen.split('\n').slice(0, lines.length).join('\n') === lines.join('\n');

/** Enters insert mode with `command` (i, o), types the lines and leaves it with Escape; returns once
 *  vi has read every key and waits for the next with no escape sequence pending */
async function insertLines(tmux: Tmux, target: string, command: string, lines: string[]): Promise<void> {
  const pid = editorPid(await tmux.pid(target));
  const before = received(pid);
  await tmux.type(target, command);
  for (const [i, line] of lines.entries()) {
    await tmux.type(target, line);
    await tmux.press(target, i < lines.length - 1 ? 'Enter' : 'Escape');
  }
  // every key is a byte (Enter a CR, Escape an ESC); after an ESC busybox vi polls its terminal
  // with a short timeout for the rest of a sequence, and a key that came then would join it
  const typed = command.length + lines.reduce((n, l) => n + l.length + 1, 0);
  await waitFor(() => received(pid) >= before + typed && pollsWithoutTimeout(pid), `vi to read ${typed} keys and leave its escape wait`);
}

/** vi's pid: the pane's process, or its child where a shell started vi (the restart window) */
function editorPid(panePid: number): number {
  const comm = fs.readFileSync(`/proc/${panePid}/comm`, 'utf8').trim();
  if (comm.startsWith('busybox')) return panePid;
  const children = fs.readFileSync(`/proc/${panePid}/task/${panePid}/children`, 'utf8').trim().split(' ').map(Number);
  const vi = children.find((c) => fs.readFileSync(`/proc/${c}/comm`, 'utf8').startsWith('busybox'));
  if (vi === undefined) throw new Error(`no vi among the children of pane process ${panePid} (${comm})`);
  return vi;
}

/** Blocked in poll with no timeout: waiting for a key, nothing pending */
function pollsWithoutTimeout(pid: number): boolean {
  const args = blockedArgs(pid);
  return blockedIn(pid) === __NR_POLL && args !== null && BigInt.asIntN(32, args[2]) === -1n;
}

/** Dead: no such process, or a zombie its parent (tmux) has not reaped yet */
async function processGone(pid: number): Promise<void> {
  const state = (f: string) => { try { return fs.readFileSync(`/proc/${pid}/${f}`, 'utf8').trim(); } catch { return '?'; } };
  for (let t = 0; t < 200; t++) {
    try { process.kill(pid, 0); } catch { return; }
    if (/^State:\s+Z/m.test(state('status'))) return;
    await sleep(25);
  }
  throw new Error(`process ${pid} outlived SIGKILL: ${/State:.*/.exec(state('status'))?.[0]}, wchan ${state('wchan')}`);
}

describe('busybox vi relinked, checkpointed in one terminal and restarted in another', function () {
  this.timeout(120_000);

  it('shows the typed lines again in raw mode, goes on taking keys, and :wq writes every line', async () => {
    const dir = scratch();
    await relinkFile('/bin/busybox', path.join(dir, 'busybox.ckpt'));
    const problems: string[] = [];
    // exec: the pane's process is vi itself
    const tmux = await Tmux.start(dir, 'CKPT_IMAGE=vi.img exec ./busybox.ckpt vi note.txt');
    try {
      const first = tmux.first;
      assert.ok(await tmux.waitFor(first, 'note.txt'), `vi started: ${await tmux.screen(first)}`);
      await insertLines(tmux, first, 'i', BEFORE);
      const typed = await tmux.waitFor(first, showsLines(BEFORE));
      assert.ok(typed, `the lines were typed: ${await tmux.screen(first)}`);
      const firstTty = await tmux.tty(first);
      const viSettings = await ttySettings(firstTty);
      assert.ok(isRaw(viSettings.words), 'the original vi runs its terminal in raw mode');

      // the restart's window exists before the kill, so that it gets a pseudo-terminal of its own
      const second = await tmux.window(`sh -c 'while [ ! -e restart-now ]; do sleep 0.05; done; stty -g > tty-fresh; ` +
        `CKPT_RESTART=vi.img ./busybox.ckpt; echo "status=$?"; sleep 600'`);
      const secondTty = await tmux.tty(second);
      assert.notEqual(secondTty, firstTty);

      const pid = await tmux.pid(first);
      process.kill(pid, 'SIGUSR2');
      await waitFor(() => fs.existsSync(path.join(dir, 'vi.img')), 'the image after the checkpoint signal');
      process.kill(pid, 'SIGKILL');
      await processGone(pid);
      fs.writeFileSync(path.join(dir, 'restart-now'), '');

      let shown = await tmux.waitFor(second, showsLines(BEFORE));
      if (!shown) {
        const blank = await tmux.screen(second);
        await tmux.press(second, 'C-l');
        shown = await tmux.waitFor(second, showsLines(BEFORE), 3_000);
        problems.push(`the restarted vi did not redraw its screen by itself (SIGWINCH); after Ctrl-L it ${shown ? 'did' : 'still did not'}.\n` +
          `screen after restart:\n${blank}\nscreen after Ctrl-L:\n${await tmux.screen(second)}`);
      }
      const restored = await ttySettings(secondTty);
      if (!isRaw(restored.words)) problems.push(`the new terminal is not in raw mode while the restarted vi runs: stty -a says ${['icanon', 'echo'].map((w) => restored.words.has(w) ? w : `-${w}`).join(' ')}`);
      else if (restored.g !== viSettings.g) problems.push(`the new terminal's settings are not vi's: stty -g ${restored.g}, vi had ${viSettings.g}`);

      await insertLines(tmux, second, 'o', AFTER);
      const continued = await tmux.waitFor(second, showsLines([...BEFORE, ...AFTER]), 3_000);
      if (!continued) problems.push(`the typed line after the restart is not on the screen:\n${await tmux.screen(second)}`);
      await tmux.type(second, ':wq');
      await tmux.press(second, 'Enter');
      const ended = await tmux.waitFor(second, (s) => /status=\d+/.test(s), 10_000);
      if (!ended) problems.push(`vi did not quit on :wq:\n${await tmux.screen(second)}`);
      else if (!ended.includes('status=0')) problems.push(`vi quit with ${/status=\d+/.exec(ended)![0]}:\n${ended}`);
      const note = fs.existsSync(path.join(dir, 'note.txt')) ? fs.readFileSync(path.join(dir, 'note.txt'), 'utf8') : '(no file)';
      if (note !== [...BEFORE, ...AFTER].join('\n') + '\n') problems.push(`note.txt holds ${JSON.stringify(note)}`);
      if (ended) {
        const after = await ttySettings(secondTty);
        const fresh = fs.readFileSync(path.join(dir, 'tty-fresh'), 'utf8').trim();
        if (!isCooked(after.words)) problems.push('the terminal is not back in cooked mode after :wq');
        else if (after.g !== fresh) problems.push(`the terminal's settings after :wq (${after.g}) are not those it had before the restart (${fresh})`);
      }
    } finally {
      await tmux.kill();
    }
    assert.deepEqual(problems, []);
  });
});
