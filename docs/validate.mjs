// Validates an AsyncAPI document with the official parser (@asyncapi/parser: the AsyncAPI JSON Schema plus
// its Spectral rules). Fails on errors and on warnings: a warning today is usually a broken $ref or an
// unused component tomorrow. Usage: node validate.mjs asyncapi.yaml
import { readFile } from 'node:fs/promises';
import { Parser, DiagnosticSeverity } from '@asyncapi/parser';

const file = process.argv[2] ?? 'asyncapi.yaml';
const parser = new Parser();
const { document, diagnostics } = await parser.parse(await readFile(file, 'utf8'), { source: file });

const severity = (s) => DiagnosticSeverity[s] ?? String(s);
const serious = diagnostics.filter(
  (d) => d.severity === DiagnosticSeverity.Error || d.severity === DiagnosticSeverity.Warning,
);
for (const d of diagnostics) {
  const where = d.path?.length ? d.path.join('.') : '(document)';
  console.log(`${severity(d.severity)} ${d.code} at ${where}: ${d.message}`);
}
if (!document || serious.length > 0) {
  console.error(`${file}: ${serious.length} error(s) or warning(s)`);
  process.exit(1);
}
const count = (m) => m.all().length;
console.log(
  `${file}: valid AsyncAPI ${document.version()}, ${count(document.channels())} channels, ` +
    `${count(document.operations())} operations, ${count(document.messages())} messages`,
);
