// The API server's static cost estimate of an x-kubernetes-validations rule, ported so that the
// stand-in API server refuses a CRD the real one would refuse (and a test can show each rule's
// margin). What it ports, and was checked against:
//  - cel-go checker/cost.go (the coster: ident/select/call/list/map costs, comprehension =
//    range + init + result + n × (condition + step), the size-based costs of ==, <, in, matches,
//    contains, startsWith, string/list +), with the macros expanded exactly as cel-go's parser
//    expands all/exists/exists_one/map/filter/has;
//  - k8s.io/apiserver pkg/cel/library/cost.go (EstimateCallCost of the Kubernetes libraries:
//    url, lowerAscii, getScheme, ...) and pkg/cel/common/schemas.go (SchemaDeclType: a string's
//    size is maxLength × 4, an enum's its longest value, an unbounded one what fits in a 3 MiB
//    request; lists and maps by maxItems/maxProperties or the same request-size estimate);
//  - k8s.io/apiextensions-apiserver: schema/cel/compilation.go (sizeEstimator walks the rule's
//    `self` path; presence tests cost 0), apis/apiextensions/validation (a rule's cost is its
//    MaxCost × the cardinality of its node, the product of maxItems/maxProperties above it;
//    StaticEstimatedCostLimit 10,000,000 per rule, StaticEstimatedCRDCostLimit 100,000,000 for
//    the CRD, and their error texts);
//  - the expected costs of TestCostEstimation in compilation_test.go, which cel-cost.test.ts
//    replays (e.g. `self.all(x, self.all(y, true))` on 10 numbers = 352).
// A function it has no cost model for is an error, never a silent underestimate.
import { parse as celParse } from '@marcbachmann/cel-js';
import type { StructuralSchema } from '../../operator/crd/generate.ts';

export const STATIC_ESTIMATED_COST_LIMIT = 10_000_000;
export const STATIC_ESTIMATED_CRD_COST_LIMIT = 100_000_000;
/** celconfig.MaxRequestSizeBytes */
const MAX_REQUEST_SIZE_BYTES = 3 * 1024 * 1024;
const MAX = Number.MAX_SAFE_INTEGER; // stands in for math.MaxUint64 (saturating arithmetic below)

// Serialized minimum sizes (apiserver pkg/cel/types.go and limits.go).
const MIN_STRING_SIZE = 2; // ""
const MIN_NUMBER_SIZE = 1;
const MIN_BOOL_SIZE = 4; // true
const JSON_DATE_SIZE = 12; // "2006-01-02"
const MIN_DATETIME_SIZE = 22; // "2006-01-02T15:04:05Z"
const MAX_DATETIME_SIZE = 37;

// cel-go common/cost.go
const STRING_TRAVERSAL = 0.1;
const REGEX_LENGTH = 0.25;
const LIST_CREATE = 10;
const MAP_CREATE = 30;

export interface DeclType {
  kind: 'object' | 'list' | 'map' | 'string' | 'bytes' | 'int' | 'double' | 'bool' | 'timestamp' | 'dyn';
  fields?: Record<string, DeclType>;
  elem?: DeclType;
  key?: DeclType;
  maxElements: number;
  minSerializedSize: number;
}

interface Est {
  min: number;
  max: number;
}

const add = (a: number, b: number) => Math.min(MAX, a + b);
const mul = (a: number, b: number) => (a === 0 || b === 0 ? 0 : a > MAX / b ? MAX : a * b);
const factor = (x: number, f: number) => (x * f >= MAX ? MAX : Math.ceil(x * f));
const E = (min: number, max = min): Est => ({ min, max });
const plus = (a: Est, b: Est): Est => E(add(a.min, b.min), add(a.max, b.max));
const times = (a: Est, b: Est): Est => E(mul(a.min, b.min), mul(a.max, b.max));
const byFactor = (a: Est, f: number): Est => E(factor(a.min, f), factor(a.max, f));
const union = (a: Est, b: Est): Est => E(Math.min(a.min, b.min), Math.max(a.max, b.max));
const UNKNOWN: Est = E(0, MAX);
const sum = (xs: Est[]) => xs.reduce(plus, E(0));

/** SchemaDeclType: the CEL type of a schema node, with the size bounds the estimator uses. */
export function declType(s: StructuralSchema): DeclType {
  switch (s.type) {
    case 'array': {
      const elem = declType(s.items!);
      const maxElements = s.maxItems ?? Math.floor((MAX_REQUEST_SIZE_BYTES - 2) / (elem.minSerializedSize + 1));
      return { kind: 'list', elem, maxElements, minSerializedSize: 2 };
    }
    case 'object': {
      if (s.additionalProperties) {
        const elem = declType(s.additionalProperties);
        const maxElements = s.maxProperties ?? Math.floor((MAX_REQUEST_SIZE_BYTES - 2) / (elem.minSerializedSize + 6));
        // The key type is the plain StringType, whose MaxElements is never set: keys are sized 0.
        return { kind: 'map', key: { kind: 'string', maxElements: 0, minSerializedSize: MIN_STRING_SIZE }, elem, maxElements, minSerializedSize: 2 };
      }
      const fields: Record<string, DeclType> = {};
      let minSerializedSize = 2;
      const required = new Set(s.required ?? []);
      for (const [name, prop] of Object.entries(s.properties ?? {})) {
        const t = declType(prop);
        fields[name] = t;
        if (required.has(name) && prop.default === undefined) minSerializedSize += name.length + t.minSerializedSize + 4;
      }
      return { kind: 'object', fields, maxElements: 0, minSerializedSize };
    }
    case 'string': {
      if (s.format === 'date-time' || s.format === 'date')
        return { kind: 'timestamp', maxElements: s.format === 'date' ? JSON_DATE_SIZE : MAX_DATETIME_SIZE, minSerializedSize: s.format === 'date' ? JSON_DATE_SIZE : MIN_DATETIME_SIZE };
      let maxElements: number;
      if (s.maxLength !== undefined) maxElements = s.maxLength * 4; // maxLength counts runes; a rune is up to 4 bytes
      else if (s.enum?.length) maxElements = Math.max(...s.enum.map((v) => (typeof v === 'string' ? v.length : 0)));
      else maxElements = MAX_REQUEST_SIZE_BYTES - 2;
      return { kind: 'string', maxElements, minSerializedSize: MIN_STRING_SIZE };
    }
    case 'boolean':
      return { kind: 'bool', maxElements: 0, minSerializedSize: MIN_BOOL_SIZE };
    case 'number':
      return { kind: 'double', maxElements: 0, minSerializedSize: MIN_NUMBER_SIZE };
    case 'integer':
      return { kind: 'int', maxElements: 0, minSerializedSize: MIN_NUMBER_SIZE };
    default:
      return { kind: 'dyn', maxElements: MAX_REQUEST_SIZE_BYTES - 2, minSerializedSize: 1 };
  }
}

// ---- the coster

type Kind = DeclType['kind'] | 'uint' | 'null' | 'url' | 'bytes';
interface CelType {
  kind: Kind;
  decl?: DeclType;
  elem?: CelType;
}

interface Ast {
  op: string;
  args: unknown;
}

interface LocalVar {
  path: string[];
  size?: Est;
  entry?: Entry;
  type: CelType;
}
interface Entry {
  container: 'list' | 'map';
  key: Est;
  val: Est;
}

export class CostError extends Error {}

const fromDecl = (d: DeclType): CelType => ({ kind: d.kind, decl: d, ...(d.elem ? { elem: fromDecl(d.elem) } : {}) });
const SCALAR: ReadonlySet<Kind> = new Set<Kind>(['bool', 'double', 'int', 'uint', 'timestamp']);

class Coster {
  private readonly root: DeclType;
  private readonly sizes = new Map<Ast, Est>();
  private readonly entries = new Map<Ast, Entry>();
  private readonly paths = new Map<Ast, string[]>();
  private readonly types = new Map<Ast, CelType>();
  private readonly scopes = new Map<string, LocalVar[]>();

  constructor(root: DeclType) {
    this.root = root;
    this.scopes.set('self', [{ path: ['self'], type: fromDecl(root) }]);
  }

  private peek(name: string): LocalVar | undefined {
    const s = this.scopes.get(name);
    return s?.[s.length - 1];
  }
  private push(name: string, v: LocalVar): void {
    this.scopes.set(name, [...(this.scopes.get(name) ?? []), v]);
  }
  private pop(name: string): void {
    this.scopes.get(name)?.pop();
  }

  private path(e: Ast): string[] {
    if (e.op === 'id') {
      const v = this.peek(e.args as string);
      if (v) return [...v.path];
    }
    return [...(this.paths.get(e) ?? [])];
  }

  /** The sizeEstimator: the DeclType reached by walking the path below the root variable. */
  private estimateSize(path: string[]): Est | undefined {
    if (!path.length) return undefined;
    let node: DeclType | undefined = this.root;
    for (const name of path.slice(1)) {
      if (name === '@items' || name === '@values') node = node.elem;
      else if (name === '@keys') node = node.key;
      else node = node.fields?.[name];
      if (!node) return undefined;
    }
    return E(0, node.maxElements);
  }

  private type(e: Ast): CelType {
    return this.types.get(e) ?? { kind: 'dyn' };
  }

  /** computeSize, in cel-go's order: computed, literal, estimator by path, scalar type, local var. */
  private size(e: Ast): Est | undefined {
    const computed = this.sizes.get(e);
    if (computed) return computed;
    const lit = literalSize(e);
    if (lit) return lit;
    const est = this.estimateSize(this.path(e));
    if (est) {
      this.sizes.set(e, est);
      return est;
    }
    if (SCALAR.has(this.type(e).kind)) return E(1);
    if (e.op === 'id') return this.peek(e.args as string)?.size;
    return undefined;
  }
  private sizeOrUnknown(e: Ast): Est {
    return this.size(e) ?? UNKNOWN;
  }
  private entry(e: Ast): Entry | undefined {
    return this.entries.get(e) ?? (e.op === 'id' ? this.peek(e.args as string)?.entry : undefined);
  }

  cost(e: Ast): Est {
    switch (e.op) {
      case 'value':
        this.types.set(e, literalType(e.args));
        return E(0);
      case 'id': {
        const name = e.args as string;
        const v = this.peek(name);
        if (!v) throw new CostError(`undeclared reference to '${name}'`);
        this.types.set(e, v.type);
        return E(1);
      }
      case '.':
        return this.select(e, false);
      case 'list': {
        const items = e.args as Ast[];
        let c = E(0);
        let item = E(items.length ? MAX : 0, 0);
        for (const x of items) {
          c = plus(c, this.cost(x));
          item = union(item, this.sizeOrUnknown(x));
        }
        this.entries.set(e, { container: 'list', key: E(1), val: item });
        this.types.set(e, { kind: 'list', elem: items.length ? this.type(items[0]!) : { kind: 'dyn' } });
        return plus(c, E(LIST_CREATE));
      }
      case 'map': {
        const pairs = e.args as [Ast, Ast][];
        let c = E(0);
        let k = E(pairs.length ? MAX : 0, 0);
        let v = E(pairs.length ? MAX : 0, 0);
        for (const [key, val] of pairs) {
          c = plus(plus(c, this.cost(key)), this.cost(val));
          k = union(k, this.sizeOrUnknown(key));
          v = union(v, this.sizeOrUnknown(val));
        }
        this.entries.set(e, { container: 'map', key: k, val: v });
        this.types.set(e, { kind: 'map' });
        return plus(c, E(MAP_CREATE));
      }
      case 'rcall': {
        const [fn, target, args] = e.args as [string, Ast, Ast[]];
        if (MACROS.has(fn)) return this.comprehension(e, fn, target, args);
        return this.call(e, fn, target, args);
      }
      case 'call': {
        const [fn, args] = e.args as [string, Ast[]];
        if (fn === 'has') {
          if (args[0]?.op !== '.') throw new CostError('has() needs a field selection');
          return this.select(args[0], true, e);
        }
        return this.call(e, fn, undefined, args);
      }
      case '[]':
        return this.call(e, '_[_]', undefined, e.args as Ast[]);
      case '?:':
        return this.call(e, '_?_:_', undefined, e.args as Ast[]);
      case '!_':
        return this.call(e, '!_', undefined, [e.args as Ast]);
      case '-_':
        return this.call(e, '-_', undefined, [e.args as Ast]);
      default:
        if (BINARY.has(e.op)) return this.call(e, e.op, undefined, e.args as Ast[]);
        throw new CostError(`no cost model for ${e.op}`);
    }
  }

  private select(e: Ast, testOnly: boolean, hasCall?: Ast): Est {
    const [operand, field] = e.args as [Ast, string];
    const c = this.cost(operand);
    const ot = this.type(operand);
    const fieldDecl = ot.decl?.kind === 'object' ? ot.decl.fields?.[field] : ot.decl?.kind === 'map' ? ot.decl.elem : undefined;
    if (ot.decl?.kind === 'object' && !fieldDecl) throw new CostError(`undefined field '${field}'`);
    this.types.set(e, fieldDecl ? fromDecl(fieldDecl) : { kind: 'dyn' });
    this.paths.set(e, [...this.path(operand), field]);
    if (testOnly) {
      // Presence tests cost nothing (PresenceTestHasCost(false) in the Kubernetes base environment).
      this.types.set(hasCall!, { kind: 'bool' });
      return c;
    }
    // Selecting from a map or an object (a struct to CEL) costs 1 more; from dyn it does not.
    return ot.kind === 'map' || ot.kind === 'object' ? plus(c, E(1)) : c;
  }

  private pushIter(name: string, range: Ast): void {
    const entry = this.entry(range);
    const rt = this.type(range);
    const isList = (entry?.container ?? (rt.kind === 'list' ? 'list' : 'map')) === 'list';
    const size = isList ? entry?.val : entry?.key;
    const elemDecl = rt.decl ? (isList ? rt.decl.elem : rt.decl.key) : undefined;
    this.push(name, {
      path: [...this.path(range), isList ? '@items' : '@keys'],
      ...(size ? { size } : {}),
      type: elemDecl ? fromDecl(elemDecl) : isList ? (rt.elem ?? { kind: 'dyn' }) : { kind: 'string' },
    });
  }

  /** A macro as cel-go's parser expands it into a comprehension, costed as costComprehension does. */
  private comprehension(e: Ast, macro: string, range: Ast, args: Ast[]): Est {
    const v = args[0];
    if (v?.op !== 'id') throw new CostError(`${macro}: the first argument must be a variable`);
    const iterVar = v.args as string;
    const accu = '@result';
    let total = this.cost(range);
    const listInit = macro === 'map' || macro === 'filter';
    const accuInit: Ast = listInit ? { op: 'list', args: [] } : { op: 'value', args: macro === 'all' ? true : macro === 'exists' ? false : 0n };
    total = plus(total, this.cost(accuInit));
    this.push(accu, { path: this.path(accuInit), ...(this.size(accuInit) ? { size: this.size(accuInit)! } : {}), ...(this.entry(accuInit) ? { entry: this.entry(accuInit)! } : {}), type: this.type(accuInit) });
    this.pushIter(iterVar, range);
    const ident = E(1);
    let loop: Est;
    let step: Est;
    let stepEntry: Entry | undefined;
    let resultCost = ident;
    switch (macro) {
      case 'all': // loop: @not_strictly_false(@result); step: @result && p
      case 'exists': {
        // exists: loop @not_strictly_false(!@result); step @result || p
        const p = this.cost(args[1]!);
        loop = macro === 'all' ? plus(E(1), ident) : plus(E(1), plus(E(1), ident));
        step = E(ident.min, add(ident.max, p.max));
        break;
      }
      case 'exists_one': {
        // loop: true; step: p ? @result + 1 : @result; result: @result == 1
        const p = this.cost(args[1]!);
        loop = E(0);
        step = plus(p, union(plus(E(1), ident), ident));
        resultCost = plus(E(factor(1, STRING_TRAVERSAL)), ident);
        break;
      }
      case 'map':
      case 'filter': {
        // step: [p ?] @result + [t] [: @result]
        const p = macro === 'filter' || args.length === 3 ? this.cost(args[1]!) : undefined;
        const t = macro === 'filter' ? v : args[args.length - 1]!;
        const tc = this.cost(t);
        const accuEntry = this.entry({ op: 'id', args: accu });
        const tEntry: Entry = { container: 'list', key: E(1), val: this.sizeOrUnknown(t) };
        stepEntry = accuEntry ? { container: 'list', key: union(accuEntry.key, tEntry.key), val: union(accuEntry.val, tEntry.val) } : undefined;
        const append = plus(E(1), plus(ident, plus(tc, E(LIST_CREATE))));
        step = p ? plus(p, union(append, ident)) : append;
        loop = E(0);
        break;
      }
      default:
        throw new CostError(`unknown macro ${macro}`);
    }
    this.pop(iterVar);
    total = plus(total, resultCost);
    this.pop(accu);
    const n = this.sizeOrUnknown(range);
    total = plus(total, times(n, plus(step, loop)));
    if (listInit) {
      this.sizes.set(e, n);
      if (stepEntry) this.entries.set(e, stepEntry);
      this.types.set(e, { kind: 'list', elem: macro === 'filter' ? this.elemType(range) : { kind: 'dyn' } });
    } else {
      this.sizes.set(e, E(1));
      this.types.set(e, { kind: 'bool' });
    }
    return total;
  }

  private elemType(range: Ast): CelType {
    const t = this.type(range);
    return t.decl?.elem ? fromDecl(t.decl.elem) : (t.elem ?? { kind: 'dyn' });
  }

  private call(e: Ast, fn: string, target: Ast | undefined, args: Ast[]): Est {
    const argCosts = args.map((a) => this.cost(a));
    let total = E(0);
    if (target) total = plus(total, this.cost(target));
    const argSum = () => sum(argCosts);
    const t0 = args[0] ? this.type(args[0]) : undefined;
    let fnCost: Est;
    let resultSize: Est | undefined;
    let type: CelType = { kind: 'dyn' };
    const strLike = (t: CelType | undefined) => t?.kind === 'string' || t?.kind === 'bytes';
    switch (fn) {
      case '&&':
      case '||':
        fnCost = E(argCosts[0]!.min, add(argCosts[0]!.max, argCosts[1]!.max));
        type = { kind: 'bool' };
        break;
      case '_?_:_': {
        resultSize = union(this.sizeOrUnknown(args[1]!), this.sizeOrUnknown(args[2]!));
        const a = this.entry(args[1]!);
        const b = this.entry(args[2]!);
        if (a && b) this.entries.set(e, { container: a.container, key: union(a.key, b.key), val: union(a.val, b.val) });
        fnCost = plus(argCosts[0]!, union(argCosts[1]!, argCosts[2]!));
        type = this.type(args[1]!);
        break;
      }
      case '==':
      case '!=':
      case '<':
      case '<=':
      case '>':
      case '>=': {
        type = { kind: 'bool' };
        const sized = fn === '==' || fn === '!=' || strLike(t0);
        if (!sized) {
          fnCost = plus(E(1), argSum());
          break;
        }
        const smallest = Math.min(this.sizeOrUnknown(args[0]!).max, this.sizeOrUnknown(args[1]!).max);
        fnCost = plus(byFactor(E(smallest > 0 ? 1 : 0, smallest), STRING_TRAVERSAL), argSum());
        break;
      }
      case 'in':
        type = { kind: 'bool' };
        fnCost = this.type(args[1]!).kind === 'list' ? plus(this.sizeOrUnknown(args[1]!), argSum()) : plus(E(1), argSum());
        break;
      case '+': {
        type = this.type(args[0]!);
        if (['string', 'bytes', 'list'].includes(type.kind)) {
          resultSize = plus(this.sizeOrUnknown(args[0]!), this.sizeOrUnknown(args[1]!));
          const a = this.entry(args[0]!);
          const b = this.entry(args[1]!);
          if (a && b) this.entries.set(e, { container: 'list', key: union(a.key, b.key), val: union(a.val, b.val) });
          fnCost = type.kind === 'list' ? plus(E(1), argSum()) : plus(byFactor(resultSize, STRING_TRAVERSAL), argSum());
        } else fnCost = plus(E(1), argSum());
        break;
      }
      case 'matches': {
        type = { kind: 'bool' };
        const [str, re] = target ? [target, args[0]!] : [args[0]!, args[1]!];
        const strCost = byFactor(plus(this.sizeOrUnknown(str), E(1)), STRING_TRAVERSAL);
        const reCost = byFactor(this.sizeOrUnknown(re), REGEX_LENGTH);
        fnCost = plus(times(strCost, reCost), argSum());
        break;
      }
      case 'contains':
        type = { kind: 'bool' };
        fnCost = plus(times(byFactor(this.sizeOrUnknown(target!), STRING_TRAVERSAL), byFactor(this.sizeOrUnknown(args[0]!), STRING_TRAVERSAL)), argSum());
        break;
      case 'startsWith':
      case 'endsWith':
        type = { kind: 'bool' };
        fnCost = plus(byFactor(this.sizeOrUnknown(args[0]!), STRING_TRAVERSAL), argSum());
        break;
      // Kubernetes libraries (library/cost.go EstimateCallCost)
      case 'url': {
        const sz = this.sizeOrUnknown(args[0]!);
        resultSize = sz;
        type = { kind: 'url' };
        fnCost = plus(byFactor(sz, STRING_TRAVERSAL), argSum());
        break;
      }
      case 'lowerAscii':
      case 'upperAscii':
      case 'trim': {
        const sz = this.sizeOrUnknown(target!);
        resultSize = sz;
        type = { kind: 'string' };
        fnCost = plus(byFactor(sz, STRING_TRAVERSAL), argSum());
        break;
      }
      case 'getScheme':
      case 'getHostname':
      case 'getHost':
      case 'getPort':
      case 'getEscapedPath':
      case 'getQuery':
        type = { kind: 'string' };
        fnCost = plus(E(1), argSum());
        break;
      // O(1): cel-go's default cost of 1 (isURL has no estimate of its own in library/cost.go)
      case 'size':
      case 'isURL':
      case '!_':
      case '-_':
      case '-':
      case '*':
      case '/':
      case '%':
      case 'int':
      case 'string':
      case 'double':
      case '_[_]': {
        if (fn === '_[_]') {
          const container = args[0]!;
          const ct = this.type(container);
          const isList = ct.kind === 'list';
          const ent = this.entry(container);
          if (ent) resultSize = ent.val;
          this.paths.set(e, [...this.path(container), isList ? '@items' : '@values']);
          type = ct.decl?.elem ? fromDecl(ct.decl.elem) : (ct.elem ?? { kind: 'dyn' });
        } else type = { kind: fn === 'size' || fn === 'int' ? 'int' : fn === 'isURL' || fn === '!_' ? 'bool' : fn === 'string' ? 'string' : fn === 'double' ? 'double' : (t0?.kind ?? 'dyn') };
        fnCost = plus(E(1), argSum());
        break;
      }
      default:
        throw new CostError(`no cost model for function ${fn}`);
    }
    this.types.set(e, type);
    if (resultSize) this.sizes.set(e, resultSize);
    return plus(total, fnCost);
  }
}

const MACROS = new Set(['all', 'exists', 'exists_one', 'map', 'filter']);
const BINARY = new Set(['&&', '||', '==', '!=', '<', '<=', '>', '>=', 'in', '+', '-', '*', '/', '%']);

function literalType(v: unknown): CelType {
  if (typeof v === 'string') return { kind: 'string' };
  if (typeof v === 'bigint') return { kind: 'int' };
  if (typeof v === 'number') return { kind: 'double' };
  if (typeof v === 'boolean') return { kind: 'bool' };
  if (v === null) return { kind: 'null' };
  if (v instanceof Uint8Array) return { kind: 'bytes' };
  return { kind: 'uint' };
}

function literalSize(e: Ast): Est | undefined {
  if (e.op === 'value') {
    const v = e.args;
    if (typeof v === 'string') return E([...v].length);
    if (v instanceof Uint8Array) return E(v.length);
    return E(1);
  }
  if (e.op === 'list') return E((e.args as unknown[]).length);
  if (e.op === 'map') return E((e.args as unknown[]).length);
  return undefined;
}

/** The estimated maximum cost of one evaluation of `rule` with `self` of type `root`. */
export function estimateRuleCost(rule: string, root: DeclType): number {
  let ast: Ast;
  try {
    ast = (celParse(rule) as unknown as { ast: Ast }).ast;
  } catch (err) {
    throw new CostError(`compilation failed: ${(err as Error).message}`);
  }
  return new Coster(root).cost(ast).max;
}

/** maxCardinality: how often data of this minimum size could repeat in one request. */
export function maxCardinality(minSize: number): number {
  return Math.floor(MAX_REQUEST_SIZE_BYTES / (minSize + 1));
}

export interface RuleCost {
  /** JSON path of the rule in the CRD, as the API server names it. */
  path: string;
  rule: string;
  /** One evaluation. */
  perCall: number;
  /** How many times the rule can run for one object (product of maxItems/maxProperties above it). */
  cardinality: number;
  /** perCall × cardinality: what is compared with the per-rule limit and summed for the CRD. */
  cost: number;
}

export interface CostReport {
  rules: RuleCost[];
  total: number;
  /** The errors the API server returns, in its wording. */
  errors: string[];
}

function costMessage(name: string, cost: number, limit: number): string {
  const f = cost / limit;
  const by = f > 100 ? 'more than 100x' : f < 1.5 ? `${f.toFixed(6)}x` : `${f.toFixed(1)}x`;
  return `${name} exceeds budget by factor of ${by} (try simplifying the rule(s), or adding maxItems, maxProperties, and maxLength where arrays, maps, and strings are declared)`;
}

/** Every rule of a CRD version's schema, costed and checked as the API server does on create. */
export function crdRuleCosts(schema: StructuralSchema, at = 'spec.versions[0].schema.openAPIV3Schema'): CostReport {
  const rules: RuleCost[] = [];
  const errors: string[] = [];
  const walk = (s: StructuralSchema, path: string, cardinality: number | undefined) => {
    const rs = s['x-kubernetes-validations'] ?? [];
    if (rs.length) {
      const decl = declType(s);
      rs.forEach((r, i) => {
        const rulePath = `${path}.x-kubernetes-validations[${i}].rule`;
        let perCall: number;
        try {
          perCall = estimateRuleCost(r.rule, decl);
        } catch (err) {
          errors.push(`${rulePath}: Invalid value: ${JSON.stringify(r.rule)}: ${(err as Error).message}`);
          return;
        }
        const card = cardinality ?? maxCardinality(decl.minSerializedSize);
        const cost = perCall === 0 ? 0 : mul(perCall, card);
        rules.push({ path: rulePath, rule: r.rule, perCall, cardinality: card, cost });
        if (cost > STATIC_ESTIMATED_COST_LIMIT) errors.push(`${rulePath}: Forbidden: ${costMessage('estimated rule cost', cost, STATIC_ESTIMATED_COST_LIMIT)}`);
      });
    }
    // A child repeats as often as its parent times the parent's bound (unbounded if it has none).
    const times = (n: number | undefined) => (cardinality === undefined || n === undefined ? undefined : mul(cardinality, n));
    for (const [k, child] of Object.entries(s.properties ?? {})) walk(child, `${path}.properties[${k}]`, cardinality);
    if (s.items) walk(s.items, `${path}.items`, times(s.maxItems));
    if (s.additionalProperties) walk(s.additionalProperties, `${path}.additionalProperties`, times(s.maxProperties));
  };
  walk(schema, at, 1);
  const total = rules.reduce((t, r) => add(t, r.cost), 0);
  if (total > STATIC_ESTIMATED_CRD_COST_LIMIT)
    errors.push(`${at}: Forbidden: ${costMessage('x-kubernetes-validations estimated rule cost total for entire OpenAPIv3 schema', total, STATIC_ESTIMATED_CRD_COST_LIMIT)}`);
  return { rules, total, errors };
}
