// Cross-origin isolation (shared memory, so the WebAssembly backend's threads) for both pages of the studio.

/**
 * On a host that sends no COOP/COEP headers, coi-serviceworker.js (loaded first by the page's HTML) registers a
 * service worker that adds them and reloads the page once. Give it a moment before starting, so the Worker is not
 * started twice; if the page stays unisolated (no service worker: plain http on a remote host, a private window), it
 * runs on one thread with a notice. Tried once per tab.
 */
export async function awaitIsolation(): Promise<void> {
  if (window.crossOriginIsolated || !window.isSecureContext || !('serviceWorker' in navigator)) return;
  if (sessionStorage.getItem('nice-flow-coi-tried')) return; // it was tried in this tab and did not help
  sessionStorage.setItem('nice-flow-coi-tried', '1');
  await new Promise((resolve) => setTimeout(resolve, 3000));
}

/** After awaitIsolation: an isolated page lets the next visit try again. */
export function isolationSettled(): void {
  if (window.crossOriginIsolated) sessionStorage.removeItem('nice-flow-coi-tried');
}
