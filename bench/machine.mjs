// What the result says about the machine it was measured on (CPU, memory, versions, git commit).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { haproxyUnavailable, haproxyVersion } from './haproxy.mjs';
import { REPO } from './processes.mjs';

function sh(cmd, args) {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], cwd: REPO }).trim();
  } catch {
    return null;
  }
}

export function machine() {
  const cpus = os.cpus();
  let debian = null;
  try {
    debian = readFileSync('/etc/debian_version', 'utf8').trim();
  } catch {
    // not Debian
  }
  return {
    cpuModel: cpus[0]?.model ?? 'unknown',
    cpuCount: cpus.length,
    totalMemoryGb: +(os.totalmem() / 2 ** 30).toFixed(1),
    os: `${os.type()} ${os.release()}`,
    debian,
    node: process.version,
    go: sh('go', ['version']),
    stepCaPackage: sh('dpkg-query', ['-W', '-f=${Version}', 'golang-github-smallstep-certificates-dev']),
    postgresqlPackage: sh('dpkg-query', ['-W', '-f=${Version}', 'postgresql']),
    haproxy: haproxyUnavailable() === null ? haproxyVersion() : null,
    gitCommit: sh('git', ['rev-parse', '--short=12', 'HEAD']),
    gitDirty: (sh('git', ['status', '--porcelain', '--untracked-files=no']) ?? '') !== '',
  };
}
