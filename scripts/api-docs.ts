/**
 * Writes docs/api.md, the API reference of the package entry point, from the types: every export of
 * src/index.ts (re-exports followed to their declarations), grouped by kind, each with its signature as
 * the TypeScript checker prints it and its JSDoc text. Uses the compiler API of the `typescript`
 * devDependency only.
 *
 *   npx tsx scripts/api-docs.ts            # (npm run docs:api) rewrite docs/api.md
 *   npx tsx scripts/api-docs.ts --check    # exit 1 when docs/api.md is not what this would write
 *
 * Deterministic: the same sources give byte-identical output (sorted by name, paths relative to the
 * repository, no dates). test/api-docs.test.ts fails when the committed file is stale.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** Where the reference goes, relative to the repository root. */
export const API_DOCS_FILE = 'docs/api.md';
const COMMAND = 'npm run docs:api';

const TYPE_FLAGS =
  ts.TypeFormatFlags.NoTruncation |
  ts.TypeFormatFlags.UseSingleQuotesForStringLiteralType |
  ts.TypeFormatFlags.UseAliasDefinedOutsideCurrentScope;

const NODE_FLAGS =
  ts.NodeBuilderFlags.NoTruncation |
  ts.NodeBuilderFlags.UseSingleQuotesForStringLiteralType |
  ts.NodeBuilderFlags.UseAliasDefinedOutsideCurrentScope |
  ts.NodeBuilderFlags.MultilineObjectLiterals |
  ts.NodeBuilderFlags.InTypeAlias;

type Group = 'class' | 'function' | 'type' | 'const' | 'referenced';
const GROUPS: { group: Group; title: string; intro?: string }[] = [
  { group: 'class', title: 'Classes' },
  { group: 'function', title: 'Functions' },
  { group: 'type', title: 'Interfaces and types' },
  { group: 'const', title: 'Constants' },
  {
    group: 'referenced',
    title: 'Referenced types not exported',
    intro: 'Types that the signatures above name but the entry point does not export, for their shapes.',
  },
];

interface Entry {
  name: string;
  group: Group;
  /** The heading's kind word: class, function, interface, type, const. */
  kind: string;
  anchor: string;
  /** Markdown below the heading. */
  body: string;
}

/** The program of tsconfig.json's compiler options, rooted at the entry point. */
function loadProgram(): { program: ts.Program; entry: ts.SourceFile } {
  const configPath = join(root, 'tsconfig.json');
  const read = ts.readConfigFile(configPath, (p) => ts.sys.readFile(p));
  if (read.error) throw new Error(ts.flattenDiagnosticMessageText(read.error.messageText, '\n'));
  const parsed = ts.parseJsonConfigFileContent(read.config, ts.sys, root, undefined, configPath);
  const entryPath = join(root, 'src', 'index.ts');
  // Only the entry point as root: the API is what it reaches (tests and benchmarks are not parsed).
  const program = ts.createProgram({ rootNames: [entryPath], options: { ...parsed.options, noEmit: true } });
  const entry = program.getSourceFile(entryPath);
  if (!entry) throw new Error(`cannot load ${entryPath}`);
  return { program, entry };
}

function compareNames(a: string, b: string): number {
  const la = a.toLowerCase();
  const lb = b.toLowerCase();
  if (la !== lb) return la < lb ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** GitHub's heading anchor for headings made of a kind word and an identifier. */
function anchorOf(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9_\- ]/g, '').replace(/ /g, '-');
}

/** Continues a bullet item: every non-empty line after the first indented by two spaces. */
function indentItem(text: string): string {
  return text.replace(/\n(?=[^\n])/g, '\n  ');
}

function hasModifier(node: ts.Node, kind: ts.SyntaxKind): boolean {
  return ts.canHaveModifiers(node) && (ts.getModifiers(node) ?? []).some((m) => m.kind === kind);
}

function isInternal(symbol: ts.Symbol): boolean {
  return (symbol.declarations ?? []).some((d) => ts.getJSDocTags(d).some((t) => t.tagName.text === 'internal'));
}

function isNonPublic(decl: ts.Declaration): boolean {
  const name = ts.getNameOfDeclaration(decl);
  if (name && ts.isPrivateIdentifier(name)) return true;
  return hasModifier(decl, ts.SyntaxKind.PrivateKeyword) || hasModifier(decl, ts.SyntaxKind.ProtectedKeyword);
}

class Renderer {
  readonly checker: ts.TypeChecker;
  /** Documented names to their anchors, for {@link} targets (an export wins over a type of the same name). */
  readonly anchors = new Map<string, string>();
  readonly printer = ts.createPrinter({ removeComments: true, newLine: ts.NewLineKind.LineFeed });

  constructor(program: ts.Program) {
    this.checker = program.getTypeChecker();
  }

  type(type: ts.Type, at: ts.Node | undefined, extra = ts.TypeFormatFlags.None): string {
    return this.checker.typeToString(type, at, TYPE_FLAGS | extra);
  }

  /**
   * A property's or parameter's type as its annotation writes it (the author's names: the checker would
   * expand an alias of a computed type such as `(typeof X)[number]`, and `x?: T` would read T | undefined),
   * else as the checker infers it.
   */
  declaredType(symbol: ts.Symbol, decl: ts.Declaration | undefined, at: ts.Node): string {
    const node = decl && (ts.isPropertyDeclaration(decl) || ts.isPropertySignature(decl) || ts.isParameter(decl)) ? decl.type : undefined;
    if (node) return node.getText();
    return this.type(decl ? this.checker.getTypeOfSymbolAtLocation(symbol, decl) : this.checker.getTypeOfSymbol(symbol), at);
  }

  signature(sig: ts.Signature, at: ts.Node | undefined): string {
    return this.checker.signatureToString(sig, at, TYPE_FLAGS);
  }

  /** Documentation parts as markdown: {@link X} becomes a code span, linked when X is an export. */
  parts(parts: readonly ts.SymbolDisplayPart[] | undefined): string {
    let out = '';
    let link: { target: string; text: string } | undefined;
    for (const p of parts ?? []) {
      if (p.kind === 'link') {
        if (p.text.startsWith('{@')) link = { target: '', text: '' };
        else if (link) {
          const label = `\`${(link.text || link.target).trim()}\``;
          const anchor = this.anchors.get(link.target.trim());
          out += anchor ? `[${label}](#${anchor})` : label;
          link = undefined;
        }
      } else if (link && p.kind === 'linkName') link.target += p.text;
      else if (link) link.text += p.text;
      else out += p.text;
    }
    return out.trim();
  }

  /** The documentation comment and tags of a symbol (or signature) as markdown. */
  doc(of: ts.Symbol | ts.Signature): string {
    const text = this.parts(of.getDocumentationComment(this.checker));
    const tags = of.getJsDocTags(this.checker).filter((t) => t.name !== 'internal');
    const lines: string[] = text ? [text] : [];
    const params = tags.filter((t) => t.name === 'param');
    if (params.length) {
      const items = params.map((t) => {
        const [name, ...rest] = t.text ?? [];
        const desc = this.parts(rest).replace(/^-\s*/, '');
        return `- \`${name?.text ?? ''}\`${desc ? `: ${desc}` : ''}`;
      });
      lines.push(`Parameters:\n\n${items.join('\n')}`);
    }
    for (const t of tags) {
      if (t.name === 'param') continue;
      const body = this.parts(t.text);
      if (t.name === 'returns' || t.name === 'return') lines.push(`Returns: ${body}`);
      else if (t.name === 'deprecated') lines.push(`**Deprecated.**${body ? ` ${body}` : ''}`);
      else if (t.name === 'example') lines.push(body.includes('```') ? body : `Example:\n\n\`\`\`ts\n${body}\n\`\`\``);
      else lines.push(`\`@${t.name}\`${body ? ` ${body}` : ''}`);
    }
    return lines.join('\n\n');
  }

  /** Where a declaration lives, relative to the repository. */
  source(decl: ts.Declaration): string {
    return relative(root, decl.getSourceFile().fileName).split(sep).join('/');
  }

  /** A member of a class or interface as a declaration line (several for overloads and accessor pairs). */
  memberLines(member: ts.Symbol, isStatic: boolean, at: ts.Node): string[] {
    const decls = member.declarations ?? [];
    const decl = decls[0];
    const prefix = isStatic ? 'static ' : '';
    const name = member.getName();
    const optional = member.flags & ts.SymbolFlags.Optional ? '?' : '';
    if (decls.some((d) => ts.isGetAccessorDeclaration(d) || ts.isSetAccessorDeclaration(d))) {
      const lines: string[] = [];
      const getter = decls.find(ts.isGetAccessorDeclaration);
      const type = getter?.type?.getText() ?? this.type(this.checker.getTypeOfSymbol(member), at);
      if (getter) lines.push(`${prefix}get ${name}(): ${type};`);
      const setter = decls.find(ts.isSetAccessorDeclaration);
      if (setter) lines.push(`${prefix}set ${name}(${setter.parameters[0]?.name.getText() ?? 'value'}: ${type});`);
      return lines;
    }
    if (decl && (ts.isMethodDeclaration(decl) || ts.isMethodSignature(decl))) {
      // An optional method's type includes undefined, which has no signatures.
      const type = this.checker.getNonNullableType(this.checker.getTypeOfSymbol(member));
      return type.getCallSignatures().map((sig) => `${prefix}${name}${optional}${this.signature(sig, at)};`);
    }
    const readonly = decls.some((d) => hasModifier(d, ts.SyntaxKind.ReadonlyKeyword)) ? 'readonly ' : '';
    const type = this.declaredType(member, decl, at);
    return [`${prefix}${readonly}${name}${optional}: ${type};`];
  }

  /** The bullet list of documented members. */
  memberDocs(members: { label: string; symbol: ts.Symbol }[]): string {
    const items = members
      .map(({ label, symbol }) => ({ label, doc: this.doc(symbol) }))
      .filter((m) => m.doc)
      .map((m) => `- \`${m.label}\`: ${indentItem(m.doc)}`);
    return items.length ? items.join('\n') : '';
  }

  typeParams(decl: ts.DeclarationWithTypeParameters): string {
    const tps = ts.getEffectiveTypeParameterDeclarations(decl);
    return tps.length ? `<${tps.map((tp) => tp.getText()).join(', ')}>` : '';
  }

  classEntry(name: string, symbol: ts.Symbol, decl: ts.ClassDeclaration): string {
    const heritage = (decl.heritageClauses ?? []).map((h) => ` ${h.getText()}`).join('');
    const lines = [`class ${name}${this.typeParams(decl)}${heritage} {`];
    const documented: { label: string; symbol: ts.Symbol }[] = [];
    const own = (m: ts.Symbol) => {
      const decls = m.declarations ?? [];
      return (
        decls.length > 0 &&
        decls.every((d) => d.parent === decl || (ts.isParameter(d) && d.parent.parent === decl)) &&
        !decls.some(isNonPublic) &&
        !isInternal(m)
      );
    };
    // Constructors: the overloads, or the implementation when there are none.
    const ctors = decl.members.filter(ts.isConstructorDeclaration);
    const ctorDecls = ctors.length > 1 ? ctors.filter((c) => !c.body) : ctors;
    let ctorDoc = '';
    for (const c of ctorDecls) {
      if (isNonPublic(c)) {
        lines.push(`  ${hasModifier(c, ts.SyntaxKind.PrivateKeyword) ? 'private' : 'protected'} constructor();`);
        continue;
      }
      const sig = this.checker.getSignatureFromDeclaration(c);
      if (!sig) continue;
      const params = sig.getParameters().map((p) => {
        const pd = p.valueDeclaration as ts.ParameterDeclaration;
        const rest = pd.dotDotDotToken ? '...' : '';
        const opt = this.checker.isOptionalParameter(pd) && !rest ? '?' : '';
        return `${rest}${p.getName()}${opt}: ${this.declaredType(p, pd, c)}`;
      });
      lines.push(`  constructor(${params.join(', ')});`);
      ctorDoc ||= this.doc(sig);
    }
    const staticType = this.checker.getTypeOfSymbol(symbol);
    for (const m of this.checker.getPropertiesOfType(staticType)) {
      if (m.getName() === 'prototype' || !own(m)) continue;
      for (const l of this.memberLines(m, true, decl)) lines.push(`  ${l}`);
      documented.push({ label: `${name}.${m.getName()}`, symbol: m });
    }
    const instanceType = this.checker.getDeclaredTypeOfSymbol(symbol);
    for (const m of this.checker.getPropertiesOfType(instanceType)) {
      if (!own(m)) continue;
      for (const l of this.memberLines(m, false, decl)) lines.push(`  ${l}`);
      documented.push({ label: m.getName(), symbol: m });
    }
    lines.push('}');
    const ctorItem = ctorDoc ? `- \`constructor\`: ${indentItem(ctorDoc)}` : '';
    return this.block(this.doc(symbol), lines.join('\n'), [ctorItem, this.memberDocs(documented)].filter((x) => x).join('\n'));
  }

  interfaceEntry(name: string, symbol: ts.Symbol, decl: ts.InterfaceDeclaration): string {
    const heritage = (decl.heritageClauses ?? []).map((h) => ` ${h.getText()}`).join('');
    const lines = [`interface ${name}${this.typeParams(decl)}${heritage} {`];
    const type = this.checker.getDeclaredTypeOfSymbol(symbol);
    lines.push(...this.indexAndCallLines(type, decl));
    const members: { label: string; symbol: ts.Symbol }[] = [];
    // Own members only: the heritage clause names where the others come from.
    const own = new Set<ts.Node>(symbol.declarations ?? []);
    for (const m of this.checker.getPropertiesOfType(type)) {
      const decls = m.declarations ?? [];
      if (!decls.some((d) => own.has(d.parent)) || isInternal(m) || decls.some(isNonPublic)) continue;
      for (const l of this.memberLines(m, false, decl)) lines.push(`  ${l}`);
      members.push({ label: m.getName(), symbol: m });
    }
    lines.push('}');
    return this.block(this.doc(symbol), lines.join('\n'), this.memberDocs(members));
  }

  indexAndCallLines(type: ts.Type, at: ts.Node): string[] {
    const lines: string[] = [];
    for (const sig of type.getCallSignatures()) lines.push(`  ${this.signature(sig, at)};`);
    for (const info of this.checker.getIndexInfosOfType(type)) {
      const ro = info.isReadonly ? 'readonly ' : '';
      lines.push(`  ${ro}[key: ${this.type(info.keyType, at)}]: ${this.type(info.type, at)};`);
    }
    return lines;
  }

  typeAliasEntry(name: string, symbol: ts.Symbol, decl: ts.TypeAliasDeclaration): string {
    const type = this.checker.getDeclaredTypeOfSymbol(symbol);
    // The declared type as written, unless it is computed from a value or another type (typeof X[number],
    // T['op'], keyof T, conditional or mapped): then what the checker resolves it to.
    const computed = (n: ts.TypeNode): boolean =>
      ts.isParenthesizedTypeNode(n)
        ? computed(n.type)
        : ts.isIndexedAccessTypeNode(n) || ts.isTypeQueryNode(n) || (ts.isTypeOperatorNode(n) && n.operator === ts.SyntaxKind.KeyOfKeyword) || ts.isConditionalTypeNode(n) || ts.isMappedTypeNode(n);
    // As written: from after the `=` (a line break before a leading `|` kept), comments and all.
    const raw = decl.getSourceFile().text.slice(decl.type.pos, decl.type.end);
    let text = /^[ \t]*\n/.test(raw) ? raw.replace(/^[ \t]*/, '') : ` ${raw.trimStart()}`;
    if (computed(decl.type)) {
      const node = this.checker.typeToTypeNode(type, decl, NODE_FLAGS);
      if (!node) throw new Error(`api-docs: cannot print the type ${name}`);
      text = ` ${this.printer.printNode(ts.EmitHint.Unspecified, node, decl.getSourceFile())}`;
    }
    const code = `type ${name}${this.typeParams(decl)} =${text};`;
    // An object type literal: its members' docs, as for an interface.
    const members = ts.isTypeLiteralNode(decl.type)
      ? this.checker.getPropertiesOfType(type).map((m) => ({ label: m.getName(), symbol: m }))
      : [];
    return this.block(this.doc(symbol), code, this.memberDocs(members));
  }

  functionEntry(name: string, symbol: ts.Symbol, decl: ts.Declaration): string {
    const type = this.checker.getTypeOfSymbol(symbol);
    const sigs = type.getCallSignatures();
    const code = sigs.map((s) => `function ${name}${this.signature(s, decl)};`).join('\n');
    const docs = [this.doc(symbol)];
    // Overloads with docs of their own.
    if (sigs.length > 1)
      for (const s of sigs) {
        const d = this.doc(s);
        if (d && !docs.includes(d)) docs.push(`\`${name}${this.signature(s, decl)}\`: ${d}`);
      }
    return this.block(docs.filter((d) => d).join('\n\n'), code, '');
  }

  constEntry(name: string, symbol: ts.Symbol, decl: ts.VariableDeclaration): string {
    const list = decl.parent;
    const keyword = ts.isVariableDeclarationList(list) && list.flags & ts.NodeFlags.Const ? 'const' : 'let';
    const type = this.type(this.checker.getTypeOfSymbol(symbol), decl);
    return this.block(this.doc(symbol), `${keyword} ${name}: ${type};`, '');
  }

  block(doc: string, code: string, memberDocs: string): string {
    return [`\`\`\`ts\n${code}\n\`\`\``, doc, memberDocs].filter((s) => s).join('\n\n');
  }
}

interface Item {
  name: string;
  symbol: ts.Symbol;
  decl: ts.Declaration;
  group: Group;
  /** The heading's kind word: class, function, interface, type, const. */
  kind: string;
}

/** The entries of one symbol: a name can be both a value and a type (const X and type X). */
function itemsOf(name: string, symbol: ts.Symbol, referenced: boolean): Item[] {
  const decls = symbol.declarations ?? [];
  const find = <T extends ts.Declaration>(is: (d: ts.Node) => d is T) => decls.find(is);
  const cls = find(ts.isClassDeclaration);
  const fn = find(ts.isFunctionDeclaration);
  const iface = find(ts.isInterfaceDeclaration);
  const alias = find(ts.isTypeAliasDeclaration);
  const variable = find(ts.isVariableDeclaration);
  const items: Item[] = [];
  const group = (g: Group): Group => (referenced ? 'referenced' : g);
  if (cls) items.push({ name, symbol, decl: cls, group: group('class'), kind: 'class' });
  else if (fn) items.push({ name, symbol, decl: fn, group: group('function'), kind: 'function' });
  else if (variable && !referenced) {
    const init = variable.initializer;
    const isFn = !!init && (ts.isArrowFunction(init) || ts.isFunctionExpression(init));
    items.push({ name, symbol, decl: variable, group: isFn ? 'function' : 'const', kind: isFn ? 'function' : 'const' });
  }
  if (iface) items.push({ name, symbol, decl: iface, group: group('type'), kind: 'interface' });
  else if (alias) items.push({ name, symbol, decl: alias, group: group('type'), kind: 'type' });
  if (!items.length) throw new Error(`api-docs: no renderer for ${name} (${decls.map((d) => ts.SyntaxKind[d.kind]).join(', ')})`);
  return items;
}

function render(r: Renderer, it: Item): string {
  let body: string;
  if (ts.isClassDeclaration(it.decl)) body = r.classEntry(it.name, it.symbol, it.decl);
  else if (ts.isInterfaceDeclaration(it.decl)) body = r.interfaceEntry(it.name, it.symbol, it.decl);
  else if (ts.isTypeAliasDeclaration(it.decl)) body = r.typeAliasEntry(it.name, it.symbol, it.decl);
  else if (it.group === 'function') body = r.functionEntry(it.name, it.symbol, it.decl);
  else body = r.constEntry(it.name, it.symbol, it.decl as ts.VariableDeclaration);
  return `${body}\n\nDefined in \`${r.source(it.decl)}\`.`;
}

/**
 * The types of the project that rendered signatures name but the entry point does not export: found by
 * resolving each capitalised identifier of the code blocks where the entry was declared.
 */
function referencedSymbols(r: Renderer, it: Item, body: string, known: Set<ts.Symbol>): ts.Symbol[] {
  const code = [...body.matchAll(/```ts\n([\s\S]*?)\n```/g)].map((m) => m[1]).join('\n');
  const found: ts.Symbol[] = [];
  for (const id of new Set(code.match(/\b[A-Z][A-Za-z0-9_]*\b/g) ?? [])) {
    let s = r.checker.resolveName(id, it.decl, ts.SymbolFlags.Type, false);
    if (s && s.flags & ts.SymbolFlags.Alias) s = r.checker.getAliasedSymbol(s);
    if (!s || s.flags & ts.SymbolFlags.TypeParameter || known.has(s)) continue;
    const decl = s.declarations?.[0];
    const file = decl?.getSourceFile().fileName ?? '';
    if (!file.startsWith(`${root.split(sep).join('/')}/src/`)) continue;
    if (isInternal(s)) continue;
    known.add(s);
    found.push(s);
  }
  return found;
}

/** The markdown of the API reference. */
export function generateApiDocs(): string {
  const { program, entry } = loadProgram();
  const r = new Renderer(program);
  const moduleSymbol = r.checker.getSymbolAtLocation(entry);
  if (!moduleSymbol) throw new Error('src/index.ts is not a module');

  const items: Item[] = [];
  const known = new Set<ts.Symbol>();
  for (const exported of r.checker.getExportsOfModule(moduleSymbol)) {
    const symbol = exported.flags & ts.SymbolFlags.Alias ? r.checker.getAliasedSymbol(exported) : exported;
    if (isInternal(symbol)) continue;
    known.add(symbol);
    items.push(...itemsOf(exported.getName(), symbol, false));
  }
  // Types named in the signatures but not exported, and those their own signatures name, to a fixed point.
  for (let i = 0; i < items.length; i++) {
    for (const s of referencedSymbols(r, items[i], render(r, items[i]), known)) items.push(...itemsOf(s.getName(), s, true));
  }
  const groupOrder = GROUPS.map((g) => g.group);
  items.sort(
    (a, b) =>
      groupOrder.indexOf(a.group) - groupOrder.indexOf(b.group) ||
      compareNames(a.name, b.name) ||
      compareNames(a.kind, b.kind) ||
      compareNames(r.source(a.decl), r.source(b.decl)),
  );
  // Anchors as GitHub makes them (a repeated heading gets -1, -2, ...); {@link X} goes to the export X.
  const seen = new Map<string, number>();
  const anchors = items.map((it) => {
    const base = anchorOf(`${it.kind} ${it.name}`);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    return n ? `${base}-${n}` : base;
  });
  items.forEach((it, i) => {
    const prev = r.anchors.get(it.name);
    if (prev === undefined || (it.group !== 'referenced' && it.group !== 'type')) r.anchors.set(it.name, anchors[i]);
  });

  const entries: Entry[] = items.map((it, i) => ({ name: it.name, group: it.group, kind: it.kind, anchor: anchors[i], body: render(r, it) }));

  const out: string[] = [
    '# API reference',
    '',
    `<!-- Generated from the types by scripts/api-docs.ts: do not edit, run \`${COMMAND}\`. -->`,
    '',
    `Everything the package entry point (\`import ... from 'tegnas'\`, src/index.ts) exports, with the`,
    'signatures as the TypeScript checker prints them and the documentation comments of the sources.',
    '',
    '## Contents',
    '',
  ];
  for (const { group, title } of GROUPS) {
    const list = entries.filter((e) => e.group === group);
    if (list.length) out.push(`- [${title}](#${anchorOf(title)}): ${list.map((e) => `[${e.name}](#${e.anchor})`).join(', ')}`);
  }
  for (const { group, title, intro } of GROUPS) {
    const list = entries.filter((e) => e.group === group);
    if (!list.length) continue;
    out.push('', `## ${title}`);
    if (intro) out.push('', intro);
    for (const e of list) out.push('', `### ${e.kind} ${e.name}`, '', e.body);
  }
  const text = `${out.join('\n')}\n`;
  // Paths from this machine must not leak into the committed file.
  if (text.includes(root)) throw new Error(`api-docs: the output names the absolute path ${root}`);
  return text;
}

function main(argv: string[]): number {
  const check = argv.includes('--check');
  const unknown = argv.filter((a) => a !== '--check');
  if (unknown.length) {
    process.stderr.write(`usage: npx tsx scripts/api-docs.ts [--check] (unknown: ${unknown.join(' ')})\n`);
    return 2;
  }
  const file = join(root, API_DOCS_FILE);
  const text = generateApiDocs();
  if (check) {
    let current: string | undefined;
    try {
      current = readFileSync(file, 'utf8');
    } catch {
      current = undefined;
    }
    if (current !== text) {
      process.stderr.write(`${API_DOCS_FILE} is ${current === undefined ? 'missing' : 'out of date'}: run ${COMMAND}\n`);
      return 1;
    }
    return 0;
  }
  writeFileSync(file, text);
  process.stdout.write(`wrote ${API_DOCS_FILE}\n`);
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) process.exitCode = main(process.argv.slice(2));
