"""The OpenAPI document says what the server does: a body that refuses unknown fields says so
(`additionalProperties: false`), and its docstring, which states its cross-field rules, is its
description."""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING

from litestar._openapi.schema_generation.plugins.struct import StructSchemaPlugin
from litestar.typing import FieldDefinition

if TYPE_CHECKING:
    from litestar._openapi.schema_generation import SchemaCreator
    from litestar.openapi.spec import Schema


class StrictStructSchema(StructSchemaPlugin):
    def to_openapi_schema(
        self, field_definition: FieldDefinition, schema_creator: SchemaCreator
    ) -> Schema:
        schema = super().to_openapi_schema(field_definition, schema_creator)
        struct = field_definition.type_
        if struct.__struct_config__.forbid_unknown_fields:
            schema.additional_properties = False
        if struct.__doc__ and not schema.description:
            schema.description = inspect.cleandoc(struct.__doc__)
        return schema
