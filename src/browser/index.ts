// Browser entry point (`nice-flow/browser`): the wasm backend with Web Worker threads. Re-exports only.
export { createWasmBackendBrowser, spawnBrowserWorker } from './createWasmBackendBrowser.js';
