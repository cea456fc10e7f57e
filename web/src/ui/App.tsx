// The studio's page: a header with the backend, the notices, and the six panels; a model file dropped anywhere loads.
import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { backendInfo, crashed, dismiss, loadModelFile, model, notices, started } from '../store.js';
import { Message, Panel } from './common.js';
import { DrawPanel } from './DrawPanel.js';
import { InterpolatePanel } from './InterpolatePanel.js';
import { LatentPanel } from './LatentPanel.js';
import { ModelPanel } from './ModelPanel.js';
import { SamplePanel } from './SamplePanel.js';
import { TrainPanel } from './TrainPanel.js';

function BackendBadge(): JSX.Element {
  const b = backendInfo.value;
  if (!b) return <span class="badge">starting…</span>;
  const text = `${b.name} · ${b.threads} thread${b.threads === 1 ? '' : 's'}`;
  return (
    <span class={`badge ${b.isolated ? 'ok' : 'warn'}`} data-testid="backend-info" title={b.isolated ? 'cross-origin isolated: shared memory and threads' : 'not cross-origin isolated'}>
      {text}
    </span>
  );
}

export function App(): JSX.Element {
  const [dragging, setDragging] = useState(false);
  useEffect(() => {
    let depth = 0;
    const hasFiles = (e: DragEvent): boolean => !!e.dataTransfer && [...e.dataTransfer.types].includes('Files');
    const enter = (e: DragEvent): void => {
      if (!hasFiles(e)) return;
      depth++;
      setDragging(true);
    };
    const leave = (): void => {
      depth = Math.max(0, depth - 1);
      if (depth === 0) setDragging(false);
    };
    const over = (e: DragEvent): void => {
      if (hasFiles(e)) e.preventDefault();
    };
    const drop = (e: DragEvent): void => {
      if (!hasFiles(e)) return;
      e.preventDefault();
      depth = 0;
      setDragging(false);
      const file = e.dataTransfer?.files[0];
      if (file) void loadModelFile(file);
    };
    window.addEventListener('dragenter', enter);
    window.addEventListener('dragleave', leave);
    window.addEventListener('dragover', over);
    window.addEventListener('drop', drop);
    return () => {
      window.removeEventListener('dragenter', enter);
      window.removeEventListener('dragleave', leave);
      window.removeEventListener('dragover', over);
      window.removeEventListener('drop', drop);
    };
  }, []);

  const b = backendInfo.value;
  // A model whose data are not pictures (2-D points, 5 channels): the picture panels give way to one line.
  const blind = model.value?.notDrawable ?? null;
  const unseen = (title: string): JSX.Element => (
    <Panel title={title} subtitle="">
      <Message text={blind} level="info" testid="not-drawable" />
    </Panel>
  );
  return (
    <div class="app" data-ready={started.value ? 'true' : 'false'}>
      <header class="top">
        <div class="brand">
          <h1>
            nice-flow <span>studio</span>
          </h1>
          <p>NICE normalizing flows (Dinh, Krueger &amp; Bengio 2014), trained and explored in your browser</p>
        </div>
        <a href="playground.html" data-testid="playground-link" class="header-link">Flow playground (2-D) →</a>
        <BackendBadge />
      </header>
      {b && !b.isolated && (
        <p class="banner warn" data-testid="isolation-notice">
          This page is not cross-origin isolated, so the model runs on one thread (slower). Serve it with the headers
          Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp (as <code>npx nice-flow studio</code> does), or over HTTPS / localhost where the bundled service worker can add them.
        </p>
      )}
      {crashed.value && <p class="banner error">{crashed.value}</p>}
      <div class="notices" aria-live="polite">
        {notices.value.map((n) => (
          <div key={n.id} class={`notice ${n.level}`} data-testid="notice">
            <span>{n.message}</span>
            <button type="button" class="close" aria-label="dismiss" onClick={() => dismiss(n.id)}>×</button>
          </div>
        ))}
      </div>
      <main class="grid">
        <div class="col">
          <ModelPanel />
          <TrainPanel />
        </div>
        <div class="col">
          {blind ? unseen('Sample') : <SamplePanel />}
          {blind ? unseen('Interpolate') : <InterpolatePanel />}
        </div>
        <div class="col">
          {blind ? unseen('Draw & complete') : <DrawPanel />}
          {blind ? unseen('Edit latents') : <LatentPanel />}
        </div>
      </main>
      <footer>
        Compute runs in a Web Worker on the library&rsquo;s WebAssembly backend; nothing leaves this page. <a href="https://arxiv.org/abs/1410.8516">The NICE paper</a>.
      </footer>
      {dragging && <div class="drop-overlay">Drop a <code>.safetensors</code> model to load it</div>}
    </div>
  );
}
