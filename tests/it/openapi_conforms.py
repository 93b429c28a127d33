"""Checks real answers against the schemas Custodian's OpenAPI document gives
them, with the validator's own schema library (openapi-schema-validator, in
the same virtualenv as openapi-spec-validator). tests/it/openapi.rs runs it.

Reads {"document": ..., "answers": [{"method", "path", "status", "body"}]}
on standard input; prints each mismatch and exits 1 if there is one.
"""
import json
import sys

from jsonschema import Draft202012Validator
from openapi_schema_validator import OAS31Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

given = json.load(sys.stdin)
doc = given["document"]
base = "urn:custodian:openapi"
registry = Registry().with_resource(base, Resource.from_contents(doc, default_specification=DRAFT202012))
escape = lambda s: s.replace("~", "~0").replace("/", "~1")
failures = []
for a in given["answers"]:
    name = f'{a["method"].upper()} {a["path"]} {a["status"]}'
    op = doc["paths"].get(a["path"], {}).get(a["method"])
    if op is None:
        failures.append(f"{name}: the operation is not documented")
        continue
    pointer = "/".join(["", "paths", escape(a["path"]), a["method"], "responses", str(a["status"])])
    response = op["responses"].get(str(a["status"]))
    if response is None:
        failures.append(f"{name}: the status is not documented")
        continue
    if "$ref" in response:
        pointer = response["$ref"][1:]
        response = registry.resolver(base).lookup(base + response["$ref"]).contents
    if "application/json" not in response.get("content", {}):
        failures.append(f"{name}: no JSON body is documented")
        continue
    schema = {"$ref": base + "#" + pointer + "/content/application~1json/schema"}
    validator = OAS31Validator(schema, registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER)
    for error in validator.iter_errors(a["body"]):
        path = "/".join(str(p) for p in error.absolute_path)
        failures.append(f"{name}: at /{path}: {error.message[:300]}")
print("\n".join(failures) if failures else f"{len(given['answers'])} answers conform")
sys.exit(1 if failures else 0)
