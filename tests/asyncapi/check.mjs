// node check.mjs FILE: parses an AsyncAPI document with the official parser; prints every diagnostic; exits 1 on any error.
import { Parser } from "@asyncapi/parser";
import { readFileSync } from "node:fs";

const parser = new Parser();
const { document, diagnostics } = await parser.parse(readFileSync(process.argv[2], "utf8"));
const severities = ["error", "warning", "info", "hint"];
for (const d of diagnostics) console.log(`${severities[d.severity]} ${d.code}: ${d.message} at ${JSON.stringify(d.path)}`);
const errors = diagnostics.filter((d) => d.severity === 0).length;
console.log(document ? `parsed: ${document.operations().length} operations, ${document.allMessages().length} messages, ${errors} errors` : `not parsed: ${errors} errors`);
process.exit(errors > 0 || !document ? 1 : 0);
