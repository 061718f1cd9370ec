"""`field__any=ids`: the field is one of a list of integers, as one parameter.

`field__in=ids` puts one placeholder and one parameter per id into the SQL, and Django
and psycopg prepare, quote and splice each one: for a publisher's or an artist's tracks,
repeated in each of a rollup's summary reads, that was a few milliseconds of a request.
On PostgreSQL `field = ANY(%s)` takes the list as one array parameter (the planner treats
it as the IN list it is); elsewhere (SQLite) it is the IN list."""

from __future__ import annotations

from django.db.models import BigIntegerField, ForeignKey, IntegerField, Lookup


class AnyOf(Lookup):
    lookup_name = "any"
    prepare_rhs = False

    def _ids(self) -> list[int]:
        return [int(value) for value in self.rhs]

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        ids = self._ids()
        if connection.vendor == "postgresql":
            return f"{lhs} = ANY(%s)", [*lhs_params, ids]
        if not ids:
            return "1 = 0", list(lhs_params)
        return f"{lhs} IN ({', '.join(['%s'] * len(ids))})", [*lhs_params, *ids]


for field in (ForeignKey, IntegerField, BigIntegerField):
    field.register_lookup(AnyOf)
