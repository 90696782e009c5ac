import { readFileSync, writeFileSync } from 'node:fs';
import { Code } from 'typebox/compile';
import Value from 'typebox/value';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CONFIG_SCHEMA, matchesConfigSchema } from './config-schema.generated.js';
import { configReference } from './config-reference.js';
import { DEFAULT_CONFIG } from './defaults.js';
import { ConfigSchema } from './schema.js';

// certmint does not load typebox to start (~300 ms of module loading, 680 files): it checks a
// config with the validator typebox compiles from ConfigSchema, generated into
// config-schema.generated.ts, and loads typebox only to word the errors of a config that fails.
// This test is the generator: it fails when the file is not what ConfigSchema gives today, and
// rewrites it when run with CERTMINT_UPDATE_GENERATED=1 (npm run generate).

const GENERATED = new URL('./config-schema.generated.ts', import.meta.url);
const REFERENCE = new URL('../../docs/configuration.md', import.meta.url);

function generated(): string {
  const { Code: code, External: external } = Code(ConfigSchema);
  // typebox's standalone module takes its regular expressions at run time (SetExternal): here they
  // are written in as literals, so the module needs nothing but typebox/guard.
  const patterns = external.variables.map((v: unknown) => {
    if (!(v instanceof RegExp)) throw new Error(`the compiled check needs a ${typeof v} the generator cannot write out`);
    return String(v);
  });
  const body = code
    .split('\n')
    .filter((line) => !/^import |^\/\/ @ts-ignore$|^let External = \[\]$|^export function SetExternal/.test(line))
    .join('\n')
    .replace(/^export function Check\(value\)/m, 'function check(value)')
    .trim();
  if (/\bHashing\b|\bCheckContext\b/.test(body)) throw new Error('the compiled check uses more of typebox than the generator writes imports for');
  return `// Generated from ConfigSchema (schema.ts) by src/config/config-schema.test.ts: \`npm run generate\`. Do not edit.
/* eslint-disable */
// @ts-nocheck
import { Guard } from 'typebox/guard';

/** ConfigSchema as JSON Schema, for typebox's Value.Errors when a config fails the check below. */
export const CONFIG_SCHEMA = ${JSON.stringify(ConfigSchema)};

const External = [${patterns.join(', ')}];

${body}

/** True when \`value\` is a config ConfigSchema accepts: typebox's compiled check, without loading typebox. */
export function matchesConfigSchema(value: unknown): boolean {
  return check(value);
}
`;
}

describe('the generated config check', () => {
  it('is what typebox compiles from ConfigSchema today', () => {
    const fresh = generated();
    if (process.env.CERTMINT_UPDATE_GENERATED === '1') writeFileSync(GENERATED, fresh);
    expect(readFileSync(GENERATED, 'utf8'), 'src/config/config-schema.generated.ts is stale: run npm run generate').toBe(fresh);
    expect(CONFIG_SCHEMA).toEqual(JSON.parse(JSON.stringify(ConfigSchema)));
  });

  it('is docs/configuration.md, every key described', () => {
    const fresh = configReference(ConfigSchema);
    if (process.env.CERTMINT_UPDATE_GENERATED === '1') writeFileSync(REFERENCE, fresh);
    expect(readFileSync(REFERENCE, 'utf8'), 'docs/configuration.md is stale: run npm run generate').toBe(fresh);
  });

  it('refuses a key without a description', () => {
    const undescribed = { type: 'object', properties: { server: { type: 'object', description: 's', properties: { listen: { type: 'string' } } } } };
    expect(() => configReference(undescribed)).toThrow('config key server.listen has no description');
  });

  it('agrees with typebox on the defaults, on changed and on arbitrary configs', () => {
    expect(matchesConfigSchema(DEFAULT_CONFIG)).toBe(true);
    const changed = structuredClone(DEFAULT_CONFIG) as unknown as { server: Record<string, unknown> };
    changed.server.listen = '';
    expect(matchesConfigSchema(changed)).toBe(false);
    // Configs close to valid (each top-level section replaced by anything) and anything at all.
    const near = fc.record(Object.fromEntries(Object.keys(DEFAULT_CONFIG).map((k) => [k, fc.oneof(fc.constant((DEFAULT_CONFIG as Record<string, unknown>)[k]), fc.anything())])));
    fc.assert(
      fc.property(fc.oneof(near, fc.anything()), (value) => {
        expect(matchesConfigSchema(value)).toBe(Value.Check(ConfigSchema, value));
      }),
      { numRuns: 2_000 },
    );
  });
});
