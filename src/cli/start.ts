#!/usr/bin/env node
// `certmint` as built (dist/cli/main.js, scripts/build-server.mjs): the server bundle, run with
// the code cache the build made of it. In the sources, src/cli/main.ts is the entry.
import { fileURLToPath } from 'node:url';
import { runServerBundle } from './code-cache.js';

runServerBundle(fileURLToPath(new URL('server.cjs', import.meta.url)));
