// The flow playground's entry point (playground.html): make sure of cross-origin isolation (the WebAssembly
// backend's shared memory), then start the Worker and render.
import { render } from 'preact';
import '../style.css';
import './playground.css';
import { App } from './App.js';
import { notify, start } from './client.js';
import { awaitIsolation, isolationSettled } from '../isolation.js';

window.addEventListener('unhandledrejection', (e) => notify('error', `unexpected error: ${String(e.reason?.message ?? e.reason)}`));

await awaitIsolation();
isolationSettled();
render(<App />, document.getElementById('app')!);
start();
