import {
  type DocumentNode,
  type FieldDefinitionNode,
  Kind,
  type ObjectTypeDefinitionNode,
  type ObjectTypeExtensionNode,
  parse,
} from "graphql";

type Subgraph = { type: string; sdl: string };

type OwnedField = { typeName: string; field: string; nonNull: boolean };

const ROOT_TYPES = new Set(["Query", "Mutation", "Subscription"]);

/**
 * What null propagation would wipe when a type has no instance: a non-null field only
 * that type resolves, on a type other subgraphs share (its root fields included), nulls
 * its nearest nullable parent when the fetch fails. For a root field that parent is the
 * whole `data`, every other type's answer with it. Fields outside the type's own are
 * not worth a warning: another subgraph answers them.
 */
export function nullPropagationWarnings(subgraphs: readonly Subgraph[]): string[] {
  const owners = new Map<string, Set<string>>();
  const fieldsBySubgraph = new Map<string, OwnedField[]>();
  // Which subgraphs define each field (not @external), to tell owned from shared fields.
  const fieldDefiners = new Map<string, Set<string>>();
  for (const { type, sdl } of subgraphs) {
    const fields: OwnedField[] = [];
    for (const node of objectTypesOf(parse(sdl))) {
      const typeName = node.name.value;
      owners.set(typeName, (owners.get(typeName) ?? new Set()).add(type));
      const keyFields = keyFieldsOf(node);
      for (const field of node.fields ?? []) {
        if (isExternal(field) || keyFields.has(field.name.value)) continue;
        const id = `${typeName}.${field.name.value}`;
        fieldDefiners.set(id, (fieldDefiners.get(id) ?? new Set()).add(type));
        fields.push({
          typeName,
          field: field.name.value,
          nonNull: field.type.kind === Kind.NON_NULL_TYPE,
        });
      }
    }
    fieldsBySubgraph.set(type, fields);
  }
  const warnings: string[] = [];
  for (const { type } of subgraphs) {
    for (const { typeName, field, nonNull } of fieldsBySubgraph.get(type) ?? []) {
      if (!nonNull) continue;
      const id = `${typeName}.${field}`;
      if ((fieldDefiners.get(id)?.size ?? 0) > 1) continue;
      const isRoot = ROOT_TYPES.has(typeName);
      if (!isRoot && (owners.get(typeName)?.size ?? 0) < 2) continue;
      warnings.push(
        isRoot
          ? `${type} owns the non-null root field ${id}: while ${type} has no instance, an operation selecting it answers data: null, losing every other type's fields.`
          : `${type} owns the non-null field ${id} on a type other subgraphs share: while ${type} has no instance, ${typeName} objects selecting it become null. Make it nullable to degrade only this field.`,
      );
    }
  }
  return warnings;
}

function objectTypesOf(
  document: DocumentNode,
): (ObjectTypeDefinitionNode | ObjectTypeExtensionNode)[] {
  return document.definitions.filter(
    (node): node is ObjectTypeDefinitionNode | ObjectTypeExtensionNode =>
      node.kind === Kind.OBJECT_TYPE_DEFINITION || node.kind === Kind.OBJECT_TYPE_EXTENSION,
  );
}

function isExternal(field: FieldDefinitionNode): boolean {
  return field.directives?.some((directive) => directive.name.value === "external") ?? false;
}

/** The top-level fields every `@key(fields: "...")` of a type names. */
function keyFieldsOf(node: ObjectTypeDefinitionNode | ObjectTypeExtensionNode): Set<string> {
  const names = new Set<string>();
  for (const directive of node.directives ?? []) {
    if (directive.name.value !== "key") continue;
    const fields = directive.arguments?.find((argument) => argument.name.value === "fields");
    if (fields?.value.kind !== Kind.STRING) continue;
    // Only the outer selection: "id organization { id }" keys on id and organization.
    let depth = 0;
    for (const token of fields.value.value.match(/[{}]|[_A-Za-z][_0-9A-Za-z]*/g) ?? []) {
      if (token === "{") depth += 1;
      else if (token === "}") depth -= 1;
      else if (depth === 0) names.add(token);
    }
  }
  return names;
}
