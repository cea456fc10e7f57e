import { NiceFlowError } from '../core/NiceFlowError.js';
import { isPointDataset, sliceExamples, type Dataset } from './Dataset.js';

/** Which part of a data set: the training file minus its held-out tail, that tail, or the test file. */
export type Split = 'train' | 'valid' | 'test';

/**
 * The validation rule shared by every front end: the last `validSize` images of the training file are held out
 * for validation, the images before them are the training split; `limit` then keeps the first N images of the split.
 * `test` is the test file itself (only `limit` applies). `what` names the data set in errors. Images and continuous
 * points (rows) split alike.
 */
export function splitDataset<T extends Dataset>(file: T, split: Split, options: { validSize: number; limit?: number }, what: string): T {
  let ds = file;
  if (split !== 'test') {
    if (options.validSize >= file.count) {
      throw new NiceFlowError(`--valid-size ${options.validSize} leaves no training ${isPointDataset(file) ? 'rows' : 'images'} (${what} has ${file.count})`);
    }
    const cut = file.count - options.validSize;
    ds = split === 'train' ? sliceExamples(file, 0, cut) : sliceExamples(file, cut, file.count);
  }
  if (options.limit !== undefined) ds = sliceExamples(ds, 0, options.limit);
  if (ds.count === 0) throw new NiceFlowError(`the ${split} split of ${what} is empty`);
  return ds;
}
