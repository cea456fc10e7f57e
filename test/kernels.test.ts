import { createRefBackend } from '../src/core/createRefBackend.js';
import { describeKernelSpec } from './kernelSpec.js';

describeKernelSpec('ref float32', () => createRefBackend());
