// What test/studio.test.ts, scripts/screenshot-studio.ts and scripts/measure-studio.ts share: building the studio,
// training a small model with the CLI, starting `nice-flow studio`, serving the static build with no special
// headers, and opening the page in Debian's Chromium (playwright-core) with every page error collected.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, normalize, sep } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const root = join(import.meta.dirname, '..');
export const CHROMIUM = '/usr/bin/chromium';
export const WEB_DIR = join(root, 'dist', 'web');

/** Builds the studio into dist/web (`vite build`, as `npm run build:web` does after its type check). */
export function buildWeb(): void {
  const r = spawnSync(process.execPath, [join(root, 'node_modules/vite/bin/vite.js'), 'build', '--config', 'web/vite.config.ts', '--logLevel', 'warn'], {
    cwd: root, encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`vite build failed:\n${r.stdout}\n${r.stderr}`);
}

/** Runs the CLI from the sources; throws with its stderr when it fails. */
export function cli(...args: string[]): string {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'cli/main.ts'), ...args], { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`nice-flow ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

/** Trains a model on MNIST with the CLI into `out`; the defaults make a tiny one in a couple of seconds. */
export function trainModel(out: string, flags: string[] = ['--limit', '2000', '--valid-limit', '500', '--batch-size', '100', '--hidden', '64', '--depth', '1', '--epochs', '2']): string {
  cli('train', '--data', 'mnist', ...flags, '--quiet', '--out', out);
  return join(out, 'model.safetensors');
}

export interface Studio {
  url: string;
  child: ChildProcess;
  stderr(): string;
  stop(): Promise<void>;
}

/** Starts `nice-flow studio --port 0 …args` from the sources and resolves with the URL it prints. */
export function startStudio(args: string[] = []): Promise<Studio> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'cli/main.ts'), 'studio', '--port', '0', ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`nice-flow studio printed no URL within 20 s: ${err}`)), 20_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`nice-flow studio exited (${code}): ${err}`));
    });
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /^nice-flow studio: (http:\/\/\S+)$/m.exec(out);
      if (!m) return;
      clearTimeout(timer);
      child.removeAllListeners('exit');
      resolve({
        url: m[1], child, stderr: () => err,
        stop: () => new Promise<void>((done) => {
          if (child.exitCode !== null) return done();
          child.once('exit', () => done());
          child.kill('SIGTERM');
        }),
      });
    });
  });
}

const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.json': 'application/json', '.gz': 'application/gzip' };

/** Serves `dir` as a plain static host would: its files, with a content type and no other headers. */
export function serveStatic(dir: string): Promise<{ url: string; server: Server; close(): Promise<void> }> {
  const base = normalize(dir + sep);
  const server = createServer((req, res) => {
    let path: string;
    try {
      path = decodeURIComponent((req.url ?? '/').split('?')[0]);
    } catch {
      res.writeHead(400).end();
      return;
    }
    if (path.endsWith('/')) path += 'index.html';
    const file = normalize(join(base, path));
    if (!file.startsWith(base) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': TYPES[/\.[a-z]+$/.exec(file)?.[0] ?? ''] ?? 'application/octet-stream' });
    createReadStream(file).pipe(res);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}/`, server,
        close: () => new Promise<void>((done) => {
          server.close(() => done());
          server.closeAllConnections();
        }),
      });
    });
  });
}

/**
 * A host name that resolves to 127.0.0.1 in the browser from launchChromium but is not `localhost`: a page served
 * there is not a secure context (no service worker, no cross-origin isolation without headers), like plain http
 * from a remote host.
 */
export const INSECURE_HOST = 'studio.nice-flow.test';

export function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)`);
  // Chromium refuses to start as root with its sandbox on (CI runs as root).
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', `--host-resolver-rules=MAP ${INSECURE_HOST} 127.0.0.1`] });
}

export interface OpenedStudio {
  context: BrowserContext;
  page: Page;
  /** Page errors and console errors so far. */
  errors: string[];
}

/**
 * Opens the studio at `url` in a new browser context (fresh storage), collecting page errors and console errors,
 * and waits until the page has started its Worker.
 */
export async function openStudio(
  browser: Browser, url: string,
  options: { viewport?: { width: number; height: number }; route?: (context: BrowserContext) => Promise<void> } = {},
): Promise<OpenedStudio> {
  const context = await browser.newContext({
    viewport: options.viewport ?? { width: 1440, height: 1000 }, acceptDownloads: true,
  });
  // Requests to intercept (a broken download), set up before the page's first request.
  await options.route?.(context);
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  await page.goto(url);
  await page.waitForSelector('.app[data-ready=true]', { timeout: 30_000 });
  return { context, page, errors };
}
