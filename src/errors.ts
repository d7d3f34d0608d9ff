/**
 * The one error class of the package. `code` says what kind of problem it is, so callers can branch on
 * it without parsing messages:
 * - `E_SAFETENSORS`: a safetensors file or buffer is malformed or cannot be read or written;
 * - `E_WEIGHTS`: weights do not match a network (missing, unknown, wrong shape or dtype);
 * - `E_SHAPE`: a shape is invalid or does not match;
 * - `E_INPUT`: an invalid argument or option;
 * - `E_PLAN`: an invalid network plan;
 * - `E_ARCH`: an invalid architecture;
 * - `E_DATA`: a dataset file is missing, truncated or corrupt;
 * - `E_NATIVE`: the native engine failed or is missing.
 * - `E_BACKEND`: a compute backend was asked for that cannot be used here (`backend: 'cuda'` without a
 *   working GPU); the message says why.
 * - `E_DB`: a score database cannot be opened, is in use, or was made with other options.
 */
export class TegnasError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TegnasError';
    this.code = code;
  }
}
