/**
 * Lists, at the end of a run, every test that passed only on a retry (CI retries a failed test
 * once, see vitest.config.ts) with the error of its failed attempt, and every failed test with its
 * first error line. The retry keeps one slow moment on a loaded 2-core CI machine from sinking a
 * submission; this list keeps the flake visible so it is fixed rather than forgotten.
 */
import type { Reporter, TestCase, TestModule } from 'vitest/node';

function title(t: TestCase): string {
  return `${t.module.moduleId.replace(`${process.cwd()}/`, '')} > ${t.fullName}`;
}

function firstLine(message: string | undefined): string {
  return (message ?? '').split('\n')[0].slice(0, 300);
}

export default class FlakyReporter implements Reporter {
  private readonly flaky: TestCase[] = [];
  private readonly failed: TestCase[] = [];

  onTestCaseResult(t: TestCase): void {
    const result = t.result();
    if (result.state === 'failed') this.failed.push(t);
    else if (result.state === 'passed' && t.diagnostic()?.flaky) this.flaky.push(t);
  }

  onTestRunEnd(_modules: ReadonlyArray<TestModule>): void {
    if (this.flaky.length === 0 && this.failed.length === 0) return;
    const out: string[] = ['', '=== retry summary ==='];
    for (const t of this.flaky) {
      const errors = t.result().errors ?? [];
      out.push(`FLAKY (passed on retry ${t.diagnostic()?.retryCount}): ${title(t)}`);
      for (const e of errors) out.push(`    first attempt: ${firstLine(e.message)}`);
    }
    for (const t of this.failed) {
      const errors = t.result().errors ?? [];
      out.push(`FAILED: ${title(t)}`);
      for (const e of errors.slice(0, 2)) out.push(`    ${firstLine(e.message)}`);
    }
    process.stdout.write(`${out.join('\n')}\n`);
  }
}
