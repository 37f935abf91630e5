// Prints one plain closing line, "tests: N passed, N failed, N skipped", after vitest's own summary
// (CI reads it; vitest's table is for people).
import type { Reporter, RunnerTask, RunnerTestFile } from 'vitest'

function count(tasks: readonly RunnerTask[], acc: { passed: number; failed: number; skipped: number }) {
  for (const t of tasks) {
    if (t.type === 'suite') {
      const before = acc.failed
      count(t.tasks, acc)
      // a suite that failed with no failed test in it failed in a hook (beforeAll / afterAll)
      if (t.result?.state === 'fail' && acc.failed === before && t.tasks.length > 0) acc.failed++
    } else if (t.mode === 'skip' || t.mode === 'todo') acc.skipped++
    else if (t.result?.state === 'pass') acc.passed++
    else if (t.result?.state === 'fail') acc.failed++
    else acc.skipped++
  }
  return acc
}

export default class SummaryReporter implements Reporter {
  onFinished(files: readonly RunnerTestFile[] = []): void {
    // each file is a suite too: an afterAll failure (the prototype guard) counts as a failure
    const c = count(files, { passed: 0, failed: 0, skipped: 0 })
    const fileErrors = files.filter((f) => f.result?.state === 'fail' && f.tasks.length === 0).length
    process.stdout.write(
      `\ntests: ${c.passed} passed, ${c.failed + fileErrors} failed, ${c.skipped} skipped\n`,
    )
  }
}
