"""The JSON shapes of the API (marshmallow): what each endpoint takes and answers, from which
flask-smorest (through apispec) writes /api/v1/openapi.json. Times are ISO 8601 with their
offset; quantities and units as docs/vocabulary.md."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from backend.quantities import QUANTITIES
from backend.schema import RECORD_KINDS

EVERY = r"^[1-9][0-9]{0,5}(s|m|h|d)$"  # InfluxDB-style duration: 900s, 15m, 1h, 1d


class LoginIn(Schema):
    login = fields.String(
        required=True, validate=validate.Length(1, 64), metadata={"example": "0912345678"}
    )
    password = fields.String(required=True, validate=validate.Length(1, 256), load_only=True)


class RoleOut(Schema):
    organisation = fields.String(required=True)
    role = fields.String(required=True)
    communes = fields.List(fields.String(), required=True)


class MeOut(Schema):
    login = fields.String(required=True)
    kind = fields.String(required=True, metadata={"description": "user or token"})
    roles = fields.List(fields.Nested(RoleOut), required=True)


class LoginOut(Schema):
    token = fields.String(
        required=True, metadata={"description": "bearer token; also set as a session cookie"}
    )
    expires_at = fields.DateTime(required=True)
    me = fields.Nested(MeOut, required=True)


class PasswordIn(Schema):
    old_password = fields.String(required=True, load_only=True)
    new_password = fields.String(required=True, validate=validate.Length(8, 256), load_only=True)


class OwnerOut(Schema):
    login = fields.String(allow_none=True)
    name = fields.String(allow_none=True)


class FieldOut(Schema):
    id = fields.Integer(required=True)
    farm = fields.String(required=True)
    organisation = fields.String(required=True)
    name = fields.String(required=True)
    commune = fields.String(allow_none=True)
    latitude = fields.Float(allow_none=True)
    longitude = fields.Float(allow_none=True)
    area_m2 = fields.Float(allow_none=True)
    crop = fields.String(allow_none=True)
    planted = fields.Date(allow_none=True)
    owner = fields.Nested(OwnerOut, allow_none=True)


class ReadingsQuery(Schema):
    quantity = fields.String(required=True, validate=validate.OneOf(sorted(QUANTITIES)))
    since = fields.AwareDateTime(metadata={"description": "default: 14 days before `until`"})
    until = fields.AwareDateTime(metadata={"description": "default: now"})
    every = fields.String(
        load_default="1h",
        validate=validate.Regexp(EVERY),
        metadata={"description": "window of the means, e.g. 15m, 1h, 1d"},
    )


class PointOut(Schema):
    time = fields.DateTime(required=True)
    value = fields.Float(required=True)


class ReadingsOut(Schema):
    field = fields.Integer(required=True)
    quantity = fields.String(required=True)
    unit = fields.String(required=True)
    every_s = fields.Integer(required=True)
    points = fields.List(fields.Nested(PointOut), required=True)


class LangQuery(Schema):
    lang = fields.String(load_default="vi", validate=validate.OneOf(["vi", "en"]))


class ForecastOut(Schema):
    kind = fields.String(required=True)
    model = fields.String(required=True)
    level = fields.Integer(allow_none=True)
    text = fields.String(required=True, metadata={"description": "in the language asked for"})
    time = fields.DateTime(required=True)
    values = fields.Dict(
        keys=fields.String(),
        values=fields.Raw(),
        required=True,
        metadata={"description": "the numbers, units in their names"},
    )


class NodeOut(Schema):
    node = fields.String(required=True)
    field_id = fields.Integer(required=True)
    field = fields.String(required=True)
    farm = fields.String(required=True)
    transport = fields.String(required=True)
    revoked = fields.Boolean(required=True)


class RecordIn(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(RECORD_KINDS))
    time = fields.AwareDateTime(metadata={"description": "when it was done; default now"})
    amount_mm = fields.Float(allow_none=True, validate=validate.Range(0, 500, min_inclusive=False))
    product = fields.String(allow_none=True, validate=validate.Length(max=128))
    counts = fields.Dict(
        keys=fields.String(validate=validate.Length(1, 64)),
        values=fields.Integer(strict=True, validate=validate.Range(0, 100_000)),
        allow_none=True,
    )
    note = fields.String(allow_none=True, validate=validate.Length(max=2000))


class RecordOut(Schema):
    id = fields.Integer(required=True)
    field_id = fields.Integer(required=True)
    kind = fields.String(required=True)
    time = fields.DateTime(required=True)
    amount_mm = fields.Float(allow_none=True)
    product = fields.String(allow_none=True)
    counts = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    note = fields.String(allow_none=True)


class RecordsQuery(Schema):
    since = fields.AwareDateTime()


class ThresholdIn(Schema):
    quantity = fields.String(required=True, validate=validate.OneOf(sorted(QUANTITIES)))
    below = fields.Boolean(required=True, metadata={"description": "true: alert below value"})
    value = fields.Float(required=True, metadata={"description": "in the quantity's SenML unit"})
    level = fields.Integer(load_default=2, validate=validate.Range(1, 3))


class ThresholdOut(Schema):
    id = fields.Integer(required=True)
    field_id = fields.Integer(required=True)
    quantity = fields.String(required=True)
    below = fields.Boolean(required=True)
    value = fields.Float(required=True)
    level = fields.Integer(required=True)
