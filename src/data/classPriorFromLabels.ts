import { NiceFlowError } from '../core/NiceFlowError.js';

/**
 * The class prior p(y) of a class-conditional model from its training labels: the share of each class, add-one
 * smoothed ((count + 1) / (n + K)), so a class missing from the labels keeps a small probability and Bayes' rule
 * never takes the log of 0. A label outside [0, K) is a NiceFlowError.
 */
export function classPriorFromLabels(labels: ArrayLike<number>, classes: number): number[] {
  const counts = new Float64Array(classes);
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i];
    if (!(Number.isInteger(y) && y >= 0 && y < classes)) throw new NiceFlowError(`label ${y} of image ${i} is not one of the ${classes} classes (0 to ${classes - 1})`);
    counts[y]++;
  }
  const total = labels.length + classes;
  return Array.from(counts, (c) => (c + 1) / total);
}
