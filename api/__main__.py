"""``python -m api``: serve the search API with uvicorn, configured from ``HEIMDALL_*``."""

from __future__ import annotations

import logging
import sys

import uvicorn

from api.app import DOCS_PATH, create_app
from api.server import config
from api.settings import ApiSettings
from shared.errors import ConfigError
from shared.settings import describe, load

USAGE = f"""usage: python -m api
       python -m api token create --name NAME --role {{read,delete,admin}} [--scope FILTERS]

Heimdall's Bifrost-compatible log search API (GET /api/logs, GET /api/logs/{{id}}, /health;
OpenAPI at {DOCS_PATH}/openapi.json, interactive docs at {DOCS_PATH}).

Configured only from the environment:

"""


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] == "token":
        from api.token_cli import main as token_main

        return token_main(args[1:])
    if args and args[0] in ("-h", "--help"):
        print(USAGE + describe(ApiSettings))
        return 0
    if args:
        print(f"unexpected arguments: {' '.join(args)}\n\n{USAGE}", file=sys.stderr)
        return 2
    try:
        settings = load(ApiSettings)
        app = create_app(settings)  # reads the tokens file: a broken one stops start-up
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    level = settings.api_log_level.upper()
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # opensearch-py logs a traceback per failed request; our store logs one line instead.
    logging.getLogger("opensearch").setLevel(logging.CRITICAL)
    uvicorn.Server(config(app, settings)).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
