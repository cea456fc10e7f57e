/**
 * An error caused by the user's input (a file, a flag, a shape), with a message meant to be shown as one line.
 * The CLI prints these without a stack trace; anything else is a bug.
 */
export class NiceFlowError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NiceFlowError';
  }
}
