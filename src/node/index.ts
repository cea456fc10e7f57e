// Node-only entry point (`nice-flow/node`): backends that need native libraries or threads. Re-exports only.
export { blasAvailable, createBlasBackend, loadOpenBlas, OPENBLAS_NAMES, type BlasBackendOptions } from './createBlasBackend.js';
export { createWasmBackendNode, spawnNodeWorker } from './createWasmBackendNode.js';
export { BACKEND_NAMES, selectBackend } from './selectBackend.js';
