// The flow playground's entry point (playground.html): make sure of cross-origin isolation (the WebAssembly
// backend's shared memory), then start the Worker and render.
import { render } from 'preact';
import '../style.css';
import './playground.css';
import { App } from './App.js';
import { notify, start } from './client.js';

/** As the studio does (web/src/main.tsx): give coi-serviceworker a moment to reload the page isolated, once per tab. */
async function awaitIsolation(): Promise<void> {
  if (window.crossOriginIsolated || !window.isSecureContext || !('serviceWorker' in navigator)) return;
  if (sessionStorage.getItem('nice-flow-coi-tried')) return;
  sessionStorage.setItem('nice-flow-coi-tried', '1');
  await new Promise((resolve) => setTimeout(resolve, 3000));
}

window.addEventListener('unhandledrejection', (e) => notify('error', `unexpected error: ${String(e.reason?.message ?? e.reason)}`));

await awaitIsolation();
if (window.crossOriginIsolated) sessionStorage.removeItem('nice-flow-coi-tried');
render(<App />, document.getElementById('app')!);
start();
