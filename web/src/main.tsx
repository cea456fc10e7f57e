// The studio's entry point: make sure of cross-origin isolation (threads), then start the Worker and render.
import { render } from 'preact';
import 'uplot/dist/uPlot.min.css';
import './style.css';
import { notify, start } from './store.js';
import { App } from './ui/App.js';
import { awaitIsolation, isolationSettled } from './isolation.js';

window.addEventListener('unhandledrejection', (e) => notify('error', `unexpected error: ${String(e.reason?.message ?? e.reason)}`));

await awaitIsolation();
isolationSettled();
render(<App />, document.getElementById('app')!);
void start();
