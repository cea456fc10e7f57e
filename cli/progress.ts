// Progress bars on stderr (so --json output on stdout stays clean); on a non-terminal, a line every 10 s.
import cliProgress from 'cli-progress';

/** A progress bar; `payload` gives the format's {fields} their first values, `update(value, payload)` moves it. */
export function createBar(format: string, total: number, quiet = false, payload: Record<string, unknown> = {}): cliProgress.SingleBar {
  const bar = new cliProgress.SingleBar(
    {
      format,
      stream: process.stderr,
      hideCursor: null,
      etaBuffer: 50,
      fps: 5,
      noTTYOutput: !quiet,
      notTTYSchedule: 10000,
      barsize: 24,
      clearOnComplete: false,
    },
    cliProgress.Presets.shades_classic,
  );
  if (!quiet) bar.start(total, 0, payload);
  return quiet ? (Object.assign(Object.create(bar), { update() {}, stop() {}, start() {}, setTotal() {} }) as cliProgress.SingleBar) : bar;
}

/** Lets pending signals (Ctrl-C) and timers run between synchronous compute steps. */
export const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** "1h 02m", "3m 05s", "12s". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  if (s >= 3600) return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
  return `${s}s`;
}

/** "1 thread" / "2 threads": what a backend computes on, for messages. */
export function threadCount(backend: { threads: number }): string {
  return `${backend.threads} thread${backend.threads === 1 ? '' : 's'}`;
}
