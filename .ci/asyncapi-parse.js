// Parses an AsyncAPI document with the official parser, references to
// files beside it resolved; prints its diagnostics as JSON lines and
// exits 1 if any is an error.
const fs = require('fs');
const path = require('path');
const { Parser, fromFile } = require('@asyncapi/parser');

async function main(file) {
  const { diagnostics } = await fromFile(new Parser(), path.resolve(file)).parse();
  for (const d of diagnostics) {
    console.log(JSON.stringify({ severity: d.severity, code: d.code, path: d.path, message: d.message }));
  }
  process.exit(diagnostics.some((d) => d.severity === 0) ? 1 : 0);
}

main(process.argv[2]);
