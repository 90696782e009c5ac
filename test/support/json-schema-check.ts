/**
 * A small structural check of a JSON value against a JSON Schema (the subset the admin API's
 * OpenAPI document uses: $ref within the document, type, enum, const, properties, required,
 * additionalProperties: false, items, oneOf, pattern, format date-time/date). Returns what does
 * not match, by JSON path; an empty list when it all does.
 */
export type Schema = Record<string, unknown>;

const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

export function resolveRef(root: Schema, ref: string): Schema {
  if (!ref.startsWith('#/')) throw new Error(`only local references: ${ref}`);
  let at: unknown = root;
  for (const part of ref.slice(2).split('/')) {
    at = (at as Record<string, unknown> | undefined)?.[part];
    if (at === undefined) throw new Error(`unresolved reference ${ref}`);
  }
  return at as Schema;
}

export function schemaErrors(root: Schema, schema: Schema, value: unknown, where = '$'): string[] {
  if (typeof schema.$ref === 'string') return schemaErrors(root, resolveRef(root, schema.$ref), value, where);
  const errors: string[] = [];
  const actual = typeOf(value);
  if (schema.type !== undefined) {
    const allowed = Array.isArray(schema.type) ? (schema.type as string[]) : [schema.type as string];
    if (!allowed.includes(actual) && !(actual === 'integer' && allowed.includes('number'))) return [`${where}: ${actual}, not ${allowed.join(' or ')}`];
  }
  if ('const' in schema && value !== schema.const) errors.push(`${where}: ${JSON.stringify(value)} is not ${JSON.stringify(schema.const)}`);
  if (Array.isArray(schema.enum) && !schema.enum.includes(value)) errors.push(`${where}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`);
  if (typeof value === 'string') {
    if (typeof schema.pattern === 'string' && !new RegExp(schema.pattern, 'u').test(value)) errors.push(`${where}: ${JSON.stringify(value)} does not match ${schema.pattern}`);
    if (schema.format === 'date-time' && !DATE_TIME.test(value)) errors.push(`${where}: ${JSON.stringify(value)} is not a date-time`);
    if (schema.format === 'date' && !DATE.test(value)) errors.push(`${where}: ${JSON.stringify(value)} is not a date`);
  }
  if (Array.isArray(schema.oneOf)) {
    const matching = (schema.oneOf as Schema[]).filter((s) => schemaErrors(root, s, value, where).length === 0).length;
    if (matching !== 1) errors.push(`${where}: matches ${matching} of the oneOf schemas, not exactly one`);
  }
  if (actual === 'array' && schema.items) (value as unknown[]).forEach((v, i) => errors.push(...schemaErrors(root, schema.items as Schema, v, `${where}[${i}]`)));
  if (actual === 'object') {
    const object = value as Record<string, unknown>;
    const properties = (schema.properties ?? {}) as Record<string, Schema>;
    for (const key of (schema.required ?? []) as string[]) if (!(key in object)) errors.push(`${where}: no member ${key}`);
    for (const [key, v] of Object.entries(object)) {
      if (properties[key]) errors.push(...schemaErrors(root, properties[key], v, `${where}.${key}`));
      else if (schema.additionalProperties === false) errors.push(`${where}: member ${key} is not documented`);
    }
  }
  return errors;
}
