// Prints the reliability summary: cases tried, passed, and records lost (must be 0).
const { existsSync, readFileSync } = require('node:fs');

module.exports = async () => {
  const file = process.env.RELIABILITY_TALLY;
  if (!file || !existsSync(file)) return;
  const rows = new Map();
  for (const line of readFileSync(file, 'utf8').split('\n').filter(Boolean)) {
    const { area, tried, passed, lost } = JSON.parse(line);
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
  process.stdout.write(`${lines.join('\n')}\n`);
};
