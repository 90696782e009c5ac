/**
 * "/acme///" → "/acme". A loop, not /\/+$/: that expression is tried at every "/" of a run and
 * scans the whole run each time, so a path of many slashes followed by anything else took
 * quadratic time.
 */
export function withoutTrailingSlashes(path: string): string {
  let end = path.length;
  while (end > 0 && path.charCodeAt(end - 1) === 0x2f) end--;
  return path.slice(0, end);
}
