// Browser entry point (`nice-flow/browser`): the wasm backend with Web Worker threads, and a training run's storage
// in IndexedDB. Re-exports only.
export { createWasmBackendBrowser, spawnBrowserWorker } from './createWasmBackendBrowser.js';
export { IndexedDbRunStorage, type StoredBytes } from './IndexedDbRunStorage.js';
