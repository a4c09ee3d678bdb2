// Generates the AIRoute CustomResourceDefinition from the TypeBox schema in api/v1alpha1.
// A CRD needs a *structural* schema, which is stricter than the JSON Schema TypeBox emits:
// every node has a type, `additionalProperties: false` may not sit next to `properties`
// (pruning and kubectl's strict field validation do that job), there is no
// `patternProperties`, and `exclusiveMinimum` is the OpenAPI v3.0 boolean form.
import { stringify } from 'yaml';
import {
  AIRouteSchemaRoot,
  GROUP,
  KIND,
  NESTED_RULES,
  PLURAL,
  PRINTER_COLUMNS,
  SHORT_NAMES,
  SINGULAR,
  VERSION,
  type CelRule,
} from '../../api/v1alpha1/airoute.ts';

/** The subset of OpenAPI v3 a structural CRD schema uses. */
export interface StructuralSchema {
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  description?: string;
  properties?: Record<string, StructuralSchema>;
  required?: string[];
  items?: StructuralSchema;
  additionalProperties?: StructuralSchema;
  maxProperties?: number;
  enum?: unknown[];
  default?: unknown;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: boolean;
  exclusiveMaximum?: boolean;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  format?: string;
  minItems?: number;
  maxItems?: number;
  'x-kubernetes-validations'?: CelRule[];
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  /** atomic (default), set (unique scalars) or map (unique by the map keys). */
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-list-map-keys'?: string[];
}

type JsonSchema = Record<string, unknown>;

const KEEP = ['description', 'default', 'minimum', 'maximum', 'minLength', 'maxLength', 'pattern', 'format', 'minItems', 'maxItems', 'maxProperties', 'x-kubernetes-validations', 'x-kubernetes-list-type', 'x-kubernetes-list-map-keys'] as const;

function typeOfEnum(values: unknown[]): StructuralSchema['type'] {
  if (values.every((v) => typeof v === 'string')) return 'string';
  if (values.every((v) => Number.isInteger(v))) return 'integer';
  if (values.every((v) => typeof v === 'number')) return 'number';
  if (values.every((v) => typeof v === 'boolean')) return 'boolean';
  throw new Error(`enum of mixed types cannot be structural: ${JSON.stringify(values)}`);
}

/** Converts one JSON Schema node (and its children) into its structural form. `path` names the
 *  node like NESTED_RULES does (`routes[].retry.backoff`) so rules can be attached by path. */
export function toStructural(node: JsonSchema, path = '', rules: Record<string, CelRule[]> = {}): StructuralSchema {
  const out: StructuralSchema = {};
  // anyOf of constants (TypeBox's Union of Literals) is an enum.
  if (Array.isArray(node.anyOf)) {
    const branches = node.anyOf as JsonSchema[];
    if (!branches.every((b) => 'const' in b)) throw new Error(`${path || '<root>'}: anyOf of non-constants has no structural form`);
    node = { ...node, enum: branches.map((b) => b.const) };
    delete node.anyOf;
  }
  if (Array.isArray(node.enum)) {
    out.type = typeOfEnum(node.enum);
    out.enum = [...node.enum];
  } else if (typeof node.type === 'string') {
    out.type = node.type as StructuralSchema['type'];
  } else if ('properties' in node || 'patternProperties' in node) {
    out.type = 'object';
  } else {
    throw new Error(`${path || '<root>'}: a structural schema needs a type`);
  }
  for (const k of KEEP) if (node[k] !== undefined) (out as Record<string, unknown>)[k] = structuredClone(node[k]);
  if (typeof node.exclusiveMinimum === 'number') {
    out.minimum = node.exclusiveMinimum;
    out.exclusiveMinimum = true;
  }
  if (typeof node.exclusiveMaximum === 'number') {
    out.maximum = node.exclusiveMaximum;
    out.exclusiveMaximum = true;
  }
  if (out.type === 'object') {
    const props = node.properties as Record<string, JsonSchema> | undefined;
    if (props && Object.keys(props).length) {
      out.properties = {};
      for (const [name, child] of Object.entries(props)) out.properties[name] = toStructural(child, path ? `${path}.${name}` : name, rules);
      const required = (node.required as string[] | undefined) ?? [];
      if (required.length) out.required = [...required];
    } else {
      // A map: the value schema is additionalProperties (or TypeBox's catch-all patternProperties).
      const pattern = node.patternProperties as Record<string, JsonSchema> | undefined;
      const values = typeof node.additionalProperties === 'object' ? (node.additionalProperties as JsonSchema) : pattern ? Object.values(pattern)[0] : undefined;
      if (values) out.additionalProperties = toStructural(values, `${path}{}`, rules);
      else if (path === 'metadata') {
        // metadata's schema is the API server's own; an empty object node is what controller-gen emits.
      } else out['x-kubernetes-preserve-unknown-fields'] = true;
    }
  }
  if (out.type === 'array') out.items = toStructural(node.items as JsonSchema, `${path}[]`, rules);
  const extra = rules[path];
  if (extra) out['x-kubernetes-validations'] = [...(out['x-kubernetes-validations'] ?? []), ...extra];
  return out;
}

/** Attaches NESTED_RULES (paths relative to spec) to the spec subtree. */
function nestedRulesUnderSpec(): Record<string, CelRule[]> {
  return Object.fromEntries(Object.entries(NESTED_RULES).map(([p, r]) => [`spec.${p}`, r]));
}

export interface CustomResourceDefinition {
  apiVersion: 'apiextensions.k8s.io/v1';
  kind: 'CustomResourceDefinition';
  metadata: { name: string; labels: Record<string, string> };
  spec: {
    group: string;
    scope: 'Namespaced';
    names: { kind: string; listKind: string; plural: string; singular: string; shortNames: string[]; categories: string[] };
    versions: {
      name: string;
      served: boolean;
      storage: boolean;
      subresources: { status: Record<string, never> };
      additionalPrinterColumns: { name: string; type: string; jsonPath: string; description?: string }[];
      schema: { openAPIV3Schema: StructuralSchema };
    }[];
  };
}

export function airouteCrd(): CustomResourceDefinition {
  const schema = toStructural(JSON.parse(JSON.stringify(AIRouteSchemaRoot)) as JsonSchema, '', nestedRulesUnderSpec());
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${PLURAL}.${GROUP}`, labels: { 'app.kubernetes.io/name': 'airoute', 'app.kubernetes.io/component': 'crd' } },
    spec: {
      group: GROUP,
      scope: 'Namespaced',
      names: { kind: KIND, listKind: `${KIND}List`, plural: PLURAL, singular: SINGULAR, shortNames: [...SHORT_NAMES], categories: ['airoute'] },
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: PRINTER_COLUMNS.map((c) => ({ ...c })),
          schema: { openAPIV3Schema: schema },
        },
      ],
    },
  };
}

export const CRD_FILE = `crds/${GROUP}_${PLURAL}.yaml`;

export function airouteCrdYaml(): string {
  return (
    '# Generated by scripts/gen-crds.ts from api/v1alpha1/airoute.ts: do not edit by hand.\n' +
    '# Regenerate with: node scripts/gen-crds.ts\n' +
    stringify(airouteCrd(), { lineWidth: 0, aliasDuplicateObjects: false })
  );
}
