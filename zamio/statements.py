"""Queries that a request path makes on every request, compiled to SQL once.

The ORM compiles a queryset to SQL anew each time it runs: 0.25–0.45 ms of CPU for a
one-row read (`User.objects.get(pk=...)` 0.45 ms, the same row from SQL compiled once
0.18 ms), and a portal request makes several such reads before its real work (the
token's user, the account's stations and tracks, the bounds of the data). `Compiled`
keeps such a query written with the ORM but compiles it once per process: it builds the
queryset with sample values, remembers where each sample went in the SQL's parameters,
and then runs that SQL with the caller's values in their places.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from django.db import connection
from django.db.models import Model, QuerySet

M = TypeVar("M", bound=Model)

# Sample values for the parameters: integers no row uses, which every integer field
# passes to the database unchanged, so each can be found again among the SQL's params.
_SAMPLES = tuple(-7_300_000_001 - i for i in range(8))


def table(model: type[Model]) -> str:
    """The model's table, quoted (for SQL written out)."""
    return connection.ops.quote_name(model._meta.db_table)


def column(model: type[Model], name: str) -> str:
    """A field's column (by field name), quoted (for SQL written out)."""
    return connection.ops.quote_name(model._meta.get_field(name).column)


class Compiled:
    """`build(*values)` (a queryset of rows: values_list, or a slice of one), compiled
    once per process, for integer `values` (ids), or none."""

    def __init__(self, build: Callable[..., QuerySet], *, arity: int = 1) -> None:
        if not 0 <= arity <= len(_SAMPLES):
            raise ValueError(f"At most {len(_SAMPLES)} values.")
        self._build = build
        self._arity = arity
        self._compiled: tuple[str, tuple[tuple[bool, Any], ...], Any, dict] | None = None

    def _compile(self) -> tuple[str, tuple[tuple[bool, Any], ...], Any, dict]:
        if self._compiled is None:
            queryset = self._build(*_SAMPLES[: self._arity])
            compiler = queryset.query.get_compiler(connection.alias)
            sql, params = compiler.as_sql()
            # Each parameter: (True, the index of the caller's value) or (False, a constant
            # the query itself holds, such as a status name, passed as it is).
            places = tuple(
                (True, _SAMPLES.index(p)) if p in _SAMPLES else (False, p) for p in params
            )
            used = {i for is_value, i in places if is_value}
            if used != set(range(self._arity)):
                raise ValueError(f"The query does not use each of its {self._arity} values.")
            # What the ORM does to each value read (aware datetimes and decimals on
            # SQLite, JSON, ...): the fields' converters, by column.
            selected = [s[0] for s in (compiler.select or ())[: compiler.col_count]]
            converters = compiler.get_converters(selected)
            self._compiled = sql, places, queryset.query, converters
        return self._compiled

    def rows(self, *values: int) -> list[tuple]:
        if len(values) != self._arity:
            raise TypeError(f"{self._arity} values, not {len(values)}.")
        sql, places, query, converters = self._compile()
        params = [values[i] if is_value else i for is_value, i in places]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            found = cursor.fetchall()
        if not converters:
            return found
        # Django's own conversion, on a compiler of this thread's connection.
        compiler = query.get_compiler(connection=connection)
        return [tuple(row) for row in compiler.apply_converters(found, converters)]


class CompiledInstance(Generic[M]):
    """The first row `where(queryset of the model, *values)` selects, as a model instance
    with every field loaded (as the ORM loads it), or None; compiled once (`Compiled`)."""

    def __init__(self, model: type[M], where: Callable[..., QuerySet], *, arity: int = 1) -> None:
        self._model = model
        self._attnames = tuple(f.attname for f in model._meta.concrete_fields)
        self._query = Compiled(
            lambda *values: (
                where(model.objects.all(), *values).order_by().values_list(*self._attnames)[:1]
            ),
            arity=arity,
        )

    def get(self, *values: int) -> M | None:
        found = self._query.rows(*values)
        if not found:
            return None
        return self._model.from_db(connection.alias, self._attnames, found[0])


def rows(sql: str, params: list[Any]) -> list[tuple]:
    """The rows of SQL written out (with `table` and `column`)."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()
