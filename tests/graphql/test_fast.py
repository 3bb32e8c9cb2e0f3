"""The fast path is a plug-in (app/graphql/fast): it refuses at start what it would skip silently."""

from __future__ import annotations

import subprocess
import sys
from functools import partial

import pytest
from strawberry.extensions import SchemaExtension

from app.graphql import fast
from app.graphql.fast import plans
from app.graphql.schema import build_schema


class Audit(SchemaExtension):
    """An extension a plan knows nothing about."""


def test_a_schema_extension_a_plan_would_skip_is_refused_at_start() -> None:
    schema = build_schema()
    schema.extensions = [*schema.extensions, Audit]
    with pytest.raises(RuntimeError, match="plans skip the schema extension Audit"):
        fast.install(schema)
    with pytest.raises(RuntimeError):
        plans.check([partial(Audit)])


def test_the_default_schema_installs() -> None:
    installed = fast.install(build_schema(production=True))
    assert installed.plans.answered == 0


def test_with_compile_off_the_fast_path_is_not_imported() -> None:
    code = (
        "import sys\n"
        "from app.graphql.view import GraphQLApp\n"
        "from app.settings import load_settings\n"
        "GraphQLApp(load_settings(graphql_compile=False, env='test'))\n"
        "assert not [m for m in sys.modules if m.startswith('app.graphql.fast')], 'imported'\n"
        "GraphQLApp(load_settings(graphql_compile=True, env='test'))\n"
        "assert 'app.graphql.fast.sql' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
