// Node-only entry point (`nice-flow/node`): backends that need native libraries or threads. Re-exports only.
export { blasAvailable, createBlasBackend, loadOpenBlas, openBlasCoreName, OPENBLAS_NAMES, type BlasBackendOptions } from './createBlasBackend.js';
export { createOneDnnConv, MAX_ENTRIES as ONEDNN_MAX_PRIMITIVES, type OneDnnConv } from './createOneDnnConv.js';
export { loadOneDnn, ONEDNN_NAMES } from './loadOneDnn.js';
export { openBlasCoreTypeFor } from './openBlasCoreType.js';
export { createWasmBackendNode, spawnNodeWorker } from './createWasmBackendNode.js';
export { BACKEND_NAMES, selectBackend } from './selectBackend.js';
