// The summary of a vitest JSON report (--reporter=json --outputFile=FILE) in the plain form CI
// harnesses read ("vitest: N passed, N failed, N skipped"), and the verdict .ci/run acts on: a
// skipped or todo test fails the run, because under CERTMINT_REQUIRE_CLIENTS=1 nothing should
// skip, and a skip CI does not notice is a check that silently stopped running.
// Usage: node .ci/vitest-report.mjs FILE [LABEL]
import { readFileSync } from 'node:fs';
import path from 'node:path';

const [file, label = 'vitest'] = process.argv.slice(2);
const report = JSON.parse(readFileSync(file, 'utf8'));
const skipped = report.numPendingTests + report.numTodoTests;
console.log(`${label}: ${report.numPassedTests} passed, ${report.numFailedTests} failed` + (skipped ? `, ${skipped} skipped` : ''));

const notRun = report.testResults.flatMap((suite) =>
  suite.assertionResults
    .filter((t) => t.status !== 'passed' && t.status !== 'failed')
    .map((t) => `  ${t.status}: ${path.relative(process.cwd(), suite.name)} > ${t.fullName}`),
);
if (skipped > 0) {
  console.log(`${label}: FAILED, ${skipped} test(s) did not run (every prerequisite must be installed on CI; see test/support/clients.ts):`);
  for (const line of notRun) console.log(line);
  process.exitCode = 1;
}
