// Lists the functions and methods of apps/ and libs/ longer than a limit (default 40 lines),
// longest first: `node scripts/function-lengths.js [limit] [dir...]`. Specs are left out.
'use strict';
const { readFileSync, readdirSync, statSync } = require('node:fs');
const { join, relative } = require('node:path');
const ts = require('typescript');

const ROOT = join(__dirname, '..');
const limit = Number(process.argv[2] ?? 40);
const dirs = process.argv.length > 3 ? process.argv.slice(3) : ['apps', 'libs'];

function* sourceFiles(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      if (name !== 'node_modules' && name !== 'migrations') yield* sourceFiles(path);
    } else if (name.endsWith('.ts') && !/\.(int-|e2e-)?spec\.ts$/.test(name)) yield path;
  }
}

function nameOf(node, source) {
  if (node.name) return node.name.getText(source);
  const parent = node.parent;
  if (parent && ts.isVariableDeclaration(parent)) return parent.name.getText(source);
  if (parent && ts.isPropertyAssignment(parent)) return parent.name.getText(source);
  return '(anonymous)';
}

const found = [];
for (const dir of dirs) {
  for (const file of sourceFiles(join(ROOT, dir))) {
    const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
    const visit = (node) => {
      if (ts.isFunctionLike(node) && node.body) {
        const first = source.getLineAndCharacterOfPosition(node.getStart(source)).line;
        const last = source.getLineAndCharacterOfPosition(node.end).line;
        const lines = last - first + 1;
        if (lines > limit)
          found.push({ lines, where: `${relative(ROOT, file)}:${first + 1}`, name: nameOf(node, source) });
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
}
found.sort((a, b) => b.lines - a.lines);
for (const f of found) console.log(`${String(f.lines).padStart(4)}  ${f.name}  ${f.where}`);
console.log(`${found.length} functions longer than ${limit} lines`);
