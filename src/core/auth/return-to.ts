/**
 * Where to send someone after signing in: only a path on this site. Rejects absolute and
 * protocol-relative URLs (`//evil.example`, `/\evil.example`) and control characters, which
 * browsers may turn into another host: the open-redirect tricks.
 */
export function safeReturnTo(value: unknown, fallback = '/'): string {
  if (typeof value !== 'string' || value.length > 2000) return fallback;
  if (!value.startsWith('/') || value.startsWith('//') || value.startsWith('/\\')) return fallback;
  if (/[\u0000-\u001f\u007f\\]/.test(value)) return fallback;
  return value;
}
