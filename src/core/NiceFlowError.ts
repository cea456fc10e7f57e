/**
 * An error caused by the user's input (a file, a flag, a shape), with a message meant to be shown as one line.
 * The CLI prints these without a stack trace; anything else is a bug.
 */
export class NiceFlowError extends Error {
  constructor(message: string) {
    // One line whatever went into it: names and values read from files may hold newlines or other control characters.
    super(message.replace(/[\u0000-\u001f\u007f\u2028\u2029]/g, (c) => (c === '\n' ? '\\n' : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)));
    this.name = 'NiceFlowError';
  }
}
