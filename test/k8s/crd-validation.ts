// What the API server checks when a CustomResourceDefinition is created, as far as this project's
// CRD can run into it: the static cost of every x-kubernetes-validations rule (cel-cost.ts), and
// the shape x-kubernetes-list-type: map needs (object items; keys that are scalar properties,
// required or defaulted). A CRD that fails here is refused by the stand-in API server with the
// API server's 422, so `npm test` fails exactly where `helm install` would.
import type { CustomResourceDefinition, StructuralSchema } from '../../operator/crd/generate.ts';
import { crdRuleCosts, type CostReport } from './cel-cost.ts';

function listTypeErrors(s: StructuralSchema, path: string): string[] {
  const errors: string[] = [];
  const type = s['x-kubernetes-list-type'];
  const keys = s['x-kubernetes-list-map-keys'];
  if (keys && type !== 'map') errors.push(`${path}.x-kubernetes-list-map-keys: Forbidden: must not be specified if x-kubernetes-list-type is not map`);
  if (type === 'map') {
    const items = s.items;
    if (!items || items.type !== 'object') errors.push(`${path}.items.type: Invalid value: ${JSON.stringify(items?.type ?? '')}: must be object if parent array's x-kubernetes-list-type is map`);
    if (!keys?.length) errors.push(`${path}.x-kubernetes-list-map-keys: Required value: must not be empty if x-kubernetes-list-type is map`);
    for (const k of keys ?? []) {
      const prop = items?.properties?.[k];
      if (!prop) errors.push(`${path}.x-kubernetes-list-map-keys: Invalid value: ${JSON.stringify(k)}: entries must all be names of item properties`);
      else {
        if (prop.type === 'object' || prop.type === 'array') errors.push(`${path}.items.properties[${k}].type: Invalid value: ${JSON.stringify(prop.type)}: must be a scalar type if parent array's x-kubernetes-list-type is map`);
        if (!items?.required?.includes(k) && prop.default === undefined)
          errors.push(`${path}.items.properties[${k}]: Required value: this property is in x-kubernetes-list-map-keys, so it must have a default or be a required property`);
      }
    }
  }
  if (type === 'set' && s.items && (s.items.type === 'object' || s.items.type === 'array'))
    errors.push(`${path}.items.type: Invalid value: ${JSON.stringify(s.items.type)}: must be a scalar type if parent array's x-kubernetes-list-type is set`);
  for (const [k, child] of Object.entries(s.properties ?? {})) errors.push(...listTypeErrors(child, `${path}.properties[${k}]`));
  if (s.items) errors.push(...listTypeErrors(s.items, `${path}.items`));
  if (s.additionalProperties) errors.push(...listTypeErrors(s.additionalProperties, `${path}.additionalProperties`));
  return errors;
}

export interface CrdCheck {
  errors: string[];
  /** Per served version: every rule's estimated cost. */
  costs: CostReport[];
}

export function checkCrd(crd: CustomResourceDefinition): CrdCheck {
  const errors: string[] = [];
  const costs: CostReport[] = [];
  crd.spec.versions.forEach((v, i) => {
    const at = `spec.versions[${i}].schema.openAPIV3Schema`;
    const report = crdRuleCosts(v.schema.openAPIV3Schema, at);
    costs.push(report);
    errors.push(...report.errors, ...listTypeErrors(v.schema.openAPIV3Schema, at));
  });
  return { errors, costs };
}
