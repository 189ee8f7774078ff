// Text forms of a relink report: the summary the CLI prints, and one line per site (the golden
// files in test/golden/ are this form). Trampoline addresses are left out of the site lines: they
// move whenever the runtime's size changes, while windows and tactics only move with the input.
import type { RelinkReport, SiteReport } from './relink.js';

export function formatSummary(r: RelinkReport, output: string): string {
  const reasons = Object.entries(r.sudReasons).map(([k, v]) => `${k} ${v}`).join(', ');
  return [
    `ckpt-relink: ${output} (${r.kind})`,
    `  instructions decoded  ${r.instructions}${r.undecodableBytes ? ` (${r.undecodableBytes} undecodable bytes skipped)` : ''}`,
    `  syscall sites         ${r.sites}`,
    `  patched: jump         ${r.patched.jump}`,
    `  left to the SUD net   ${r.sud}${reasons ? ` (${reasons})` : ''}`,
    ...(r.legacySites.length ? [`  int 0x80/sysenter     ${r.legacySites.length} (not patched; trapped by the SUD net)`] : []),
    ...(r.objects?.length ? carriedLines(r) : []),
    `  time                  ${r.timeMs} ms`,
  ].join('\n') + '\n';
}

/** One line per carried object: its sites, how many are patched and left to the net, and why */
function carriedLines(r: RelinkReport): string[] {
  const objects = r.objects!;
  const sites = objects.reduce((n, o) => n + o.sites, 0), sud = objects.reduce((n, o) => n + o.sud, 0);
  return [
    `  carried objects       ${objects.length} (${sites} syscall sites, ${sites - sud} patched, ${sud} left to the SUD net)`,
    ...objects.map((o) => {
      const reasons = Object.entries(o.sudReasons).map(([k, v]) => `${k} ${v}`).join(', ');
      return `    ${o.name}${o.name !== o.path ? ` (${o.path})` : ''}: ${o.sites} sites, jump ${o.patched}, sud ${o.sud}${reasons ? ` (${reasons})` : ''}`;
    }),
  ];
}

function siteLine(s: SiteReport): string {
  const nr = `nr=${s.nr ?? '?'}`;
  if (s.tactic !== 'jump') return `${s.address} ${nr} ${s.tactic} reason=${s.reason}`;
  return `${s.address} ${nr} ${s.tactic} window=${s.window![0]}..${s.window![1]} moved=${s.moved!.before}+${s.moved!.after} unguarded=${s.unguarded}`;
}

export function formatSites(r: RelinkReport): string {
  return r.siteReports.map(siteLine).join('\n') + '\n';
}
