type Plain = { [k: string]: unknown };

/** server.tls.hostnames → CERTMINT_SERVER_TLS_HOSTNAMES; dataDir → CERTMINT_DATA_DIR. */
export function envName(keyPath: readonly string[]): string {
  return (
    'CERTMINT_' +
    keyPath.map((k) => k.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()).join('_')
  );
}

/** Lists of objects: set in the config file only; loadConfig refuses their variable rather than ignore it. */
export const FILE_ONLY_KEYS: readonly (readonly string[])[] = [['notifications', 'webhooks']];

/**
 * Overrides every leaf of the (defaults-shaped) config with its environment variable when set.
 * Lists are comma-separated; booleans are true/false/1/0; numbers are decimal.
 * Values that do not parse are left as strings so schema validation names the key.
 */
export function applyEnvironment(config: Plain, env: NodeJS.ProcessEnv, prefix: string[] = []): Plain {
  const out: Plain = { ...config };
  for (const [key, value] of Object.entries(config)) {
    const keyPath = [...prefix, key];
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      out[key] = applyEnvironment(value as Plain, env, keyPath);
      continue;
    }
    const raw = env[envName(keyPath)];
    if (raw === undefined || FILE_ONLY_KEYS.some((k) => k.join('.') === keyPath.join('.'))) continue;
    if (Array.isArray(value)) {
      out[key] = raw.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
    } else if (typeof value === 'boolean') {
      out[key] = /^(true|1|yes)$/i.test(raw) ? true : /^(false|0|no)$/i.test(raw) ? false : raw;
    } else if (typeof value === 'number') {
      out[key] = raw.trim() !== '' && Number.isFinite(Number(raw)) ? Number(raw) : raw;
    } else if (value === 'auto') {
      // A key whose default is `auto` and that also takes a boolean (server.http2).
      out[key] = /^(true|1|yes)$/i.test(raw) ? true : /^(false|0|no)$/i.test(raw) ? false : raw;
    } else {
      out[key] = raw;
    }
  }
  return out;
}
