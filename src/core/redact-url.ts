/**
 * `url` with the password of its userinfo replaced by "…" (postgres://certmint:…@db/certmint), for
 * messages and logs. Works on strings that do not parse as URLs too: the password runs to the last
 * "@" before the path, as URL parsers read it.
 */
export function redactUrlPassword(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/?#@:]*):[^/?#]*@/i, '$1:…@');
}
