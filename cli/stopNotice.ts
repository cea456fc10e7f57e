// Saying at once that Ctrl-C was heard. A training step is one long synchronous computation, so this process's own
// SIGINT handler runs only when the step ends (minutes, for a large model). Ctrl-C in a terminal signals the whole
// foreground process group, so a tiny watcher process in that group can answer it immediately.
import { spawn, type ChildProcess } from 'node:child_process';

const WATCHER = (message: string): string => `
let heard = 0;
process.on('SIGINT', () => {
  if (heard++ === 0) return process.stderr.write(${JSON.stringify(message)});
  // A second Ctrl-C quits at once, even in the middle of a step (writes are atomic: the last checkpoint stays whole).
  process.stderr.write('quit\\n');
  try { process.kill(process.ppid, 'SIGKILL'); } catch {}
  process.exit(0);
});
process.on('SIGTERM', () => process.exit(0));
process.on('disconnect', () => process.exit(0));
setInterval(() => {}, 1 << 30);
`;

/** A watcher that prints `message` on the first Ctrl-C; `active` says whether it runs (only on a terminal). */
export interface StopNotice {
  readonly active: boolean;
  stop(): void;
}

/**
 * Starts the watcher when stderr is a terminal (or NICE_FLOW_STOP_NOTICE=1); elsewhere, or when it cannot start,
 * the caller says it itself when its handler runs.
 */
export function startStopNotice(message: string): StopNotice {
  if (!process.stderr.isTTY && process.env.NICE_FLOW_STOP_NOTICE !== '1') return { active: false, stop() {} };
  let child: ChildProcess;
  try {
    child = spawn(process.execPath, ['-e', WATCHER(message)], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  } catch {
    return { active: false, stop() {} };
  }
  child.on('error', () => {});
  child.unref();
  child.channel?.unref();
  return {
    active: true,
    stop: () => {
      if (child.exitCode === null) child.kill('SIGTERM');
    },
  };
}
