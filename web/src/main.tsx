// The studio's entry point: make sure of cross-origin isolation (threads), then start the Worker and render.
import { render } from 'preact';
import 'uplot/dist/uPlot.min.css';
import './style.css';
import { notify, start } from './store.js';
import { App } from './ui/App.js';

/**
 * On a host that sends no COOP/COEP headers, coi-serviceworker.js (loaded first by index.html) registers a service
 * worker that adds them and reloads the page once. Give it a moment before starting, so the Worker is not started
 * twice; if the page stays unisolated (no service worker: plain http on a remote host, a private window), it runs
 * on one thread with a notice.
 */
async function awaitIsolation(): Promise<void> {
  if (window.crossOriginIsolated || !window.isSecureContext || !('serviceWorker' in navigator)) return;
  if (sessionStorage.getItem('nice-flow-coi-tried')) return; // it was tried in this tab and did not help
  sessionStorage.setItem('nice-flow-coi-tried', '1');
  await new Promise((resolve) => setTimeout(resolve, 3000));
}

window.addEventListener('unhandledrejection', (e) => notify('error', `unexpected error: ${String(e.reason?.message ?? e.reason)}`));

await awaitIsolation();
if (window.crossOriginIsolated) sessionStorage.removeItem('nice-flow-coi-tried');
render(<App />, document.getElementById('app')!);
void start();
