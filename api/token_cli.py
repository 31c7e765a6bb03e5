"""``python -m api token create``: a new token, printed once, and its tokens-file entry."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TextIO, get_args

from api.parsing import InvalidParameter
from api.scope import parse_scope
from api.tokens import NAME_PATTERN, NAME_RE, Role, hash_token, new_token

USAGE = "python -m api token create --name NAME --role {read,delete,admin} [--scope FILTERS]"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m api token",
        description=(
            "Create an API token. The token is printed once (only its salted hash is kept); "
            "add the printed entry to the tokens file (HEIMDALL_API_TOKENS_FILE). The API "
            "picks it up without a restart."
        ),
    )
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create", help="create a token")
    create.add_argument("--name", required=True, help=f"unique name ({NAME_PATTERN})")
    create.add_argument("--role", required=True, choices=get_args(Role))
    create.add_argument(
        "--scope",
        default="",
        help="filters of GET /api/logs the token is limited to, e.g. 'virtual_key_ids=vk-1,vk-2'"
        " (default: every log)",
    )
    return parser


def _toml(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid TOML basic string


def entry(name: str, role: str, scope: str, hashed: str) -> str:
    lines = ["[[tokens]]", f"name = {_toml(name)}", f"role = {_toml(role)}"]
    if scope:
        lines.append(f"scope = {_toml(scope)}")
    lines.append(f"hash = {_toml(hashed)}")
    return "\n".join(lines) + "\n"


def main(argv: list[str], out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    args = _parser().parse_args(argv)
    if not NAME_RE.fullmatch(args.name):
        print(f"error: --name must match {NAME_PATTERN}", file=err)
        return 2
    try:
        scope = parse_scope(args.scope)
    except InvalidParameter as exc:
        print(f"error: --scope: parameter {exc.param!r}: {exc.message}", file=err)
        return 2
    if args.role == "admin" and not scope.unscoped:
        print("error: role admin sees every log: give it no --scope", file=err)
        return 2
    token = new_token()
    print(f"token (shown once, keep it secret):\n  {token}\n", file=out)
    print("add to the tokens file:\n", file=out)
    print(entry(args.name, args.role, scope.text, hash_token(token)), file=out, end="")
    return 0
