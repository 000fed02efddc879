// Prints the reliability summary: cases tried, passed, and records lost (must be 0); then removes
// the tally's folder (global-setup.cjs made it).
const { existsSync, readFileSync, rmSync } = require('node:fs');
const { dirname } = require('node:path');

module.exports = async () => {
  const file = process.env.RELIABILITY_TALLY;
  if (!file) return;
  try {
    if (existsSync(file)) summarize(file);
  } finally {
    rmSync(dirname(file), { recursive: true, force: true });
  }
};

function summarize(file) {
  const rows = new Map();
  const models = new Map();
  for (const line of readFileSync(file, 'utf8').split('\n').filter(Boolean)) {
    const entry = JSON.parse(line);
    if (entry.kind === 'model') {
      const row = models.get(entry.area) ?? { cases: 0, sequences: 0, commands: 0, violations: 0 };
      for (const k of Object.keys(row)) row[k] += entry[k];
      models.set(entry.area, row);
      continue;
    }
    const { area, tried, passed, lost } = entry;
    const row = rows.get(area) ?? { tried: 0, passed: 0, lost: 0 };
    row.tried += tried;
    row.passed += passed;
    row.lost += lost;
    rows.set(area, row);
  }
  const total = { tried: 0, passed: 0, lost: 0 };
  const lines = [
    '',
    'Reliability summary',
    `  ${'area'.padEnd(28)}${'tried'.padStart(8)}${'passed'.padStart(8)}${'records lost'.padStart(14)}`,
  ];
  for (const [area, row] of [...rows].sort()) {
    lines.push(
      `  ${area.padEnd(28)}${String(row.tried).padStart(8)}${String(row.passed).padStart(8)}${String(row.lost).padStart(14)}`,
    );
    total.tried += row.tried;
    total.passed += row.passed;
    total.lost += row.lost;
  }
  lines.push(
    `  ${'total'.padEnd(28)}${String(total.tried).padStart(8)}${String(total.passed).padStart(8)}${String(total.lost).padStart(14)}`,
    '',
  );
  if (models.size) {
    // model-based suites (fast-check): checks made, sequences and commands run, violations (must be 0)
    const cols = ['cases tried', 'sequences', 'commands', 'violations'];
    const fmt = (name, r) =>
      `  ${name.padEnd(28)}${[r.cases, r.sequences, r.commands, r.violations].map((v, i) => String(v).padStart(cols[i].length + 2)).join('')}`;
    lines.push(
      'Model-based suites (fast-check)',
      `  ${''.padEnd(28)}${cols.map((c) => c.padStart(c.length + 2)).join('')}`,
    );
    const sum = { cases: 0, sequences: 0, commands: 0, violations: 0 };
    for (const [area, row] of [...models].sort()) {
      lines.push(fmt(area, row));
      for (const k of Object.keys(sum)) sum[k] += row[k];
    }
    lines.push(fmt('total', sum), '');
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}
