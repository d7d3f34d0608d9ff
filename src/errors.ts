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
 * - `E_JOURNAL`: a search journal cannot be read or written, is corrupt, or belongs to another search.
 */
export class TegnasError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TegnasError';
    this.code = code;
  }
}

/**
 * A value as error messages show it: JSON where JSON can show it (bigints as `12n`), cut to about `max`
 * characters with the full length noted, and never a throw (cyclic, deeply nested or exotic values).
 */
export function showValue(v: unknown, max = 200): string {
  let s: string | undefined;
  try {
    if (typeof v === 'bigint') s = `${v}n`;
    else if (v instanceof Map || v instanceof Set) s = `a ${v instanceof Map ? 'Map' : 'Set'} of ${v.size}`;
    else if (ArrayBuffer.isView(v)) s = `a ${Object.prototype.toString.call(v).slice(8, -1)} of ${v.byteLength} bytes`;
    else s = JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? `${x}n` : x));
  } catch {
    s = undefined;
  }
  if (s === undefined) {
    try {
      s = typeof v === 'symbol' ? v.toString() : typeof v === 'function' ? 'a function' : Array.isArray(v) ? `an array of ${v.length}` : String(v);
    } catch {
      s = typeof v;
    }
    if (s === '[object Object]') s = 'an object';
  }
  return s.length > max ? `${s.slice(0, Math.max(20, max - 40))}... (${s.length} characters)` : s;
}
