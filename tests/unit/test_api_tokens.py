"""Token hashing, the tokens file (parsing, errors, rotation) and ``python -m api token``."""

from __future__ import annotations

import asyncio
import io
import logging
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.__main__ import main as api_main
from api.app import watch_sighup
from api.token_cli import main as token_cli
from api.tokens import (
    HASH_SCHEME,
    Access,
    TokenEntry,
    TokenFile,
    find_token,
    hash_token,
    new_token,
    parse_hash,
    parse_token_file,
)
from shared.errors import ConfigError


def _entry(token: str, name: str) -> TokenEntry:
    return TokenEntry(parse_hash(hash_token(token)), Access(kind="token", name=name, role="read"))


def test_hashes_are_salted_and_never_hold_the_token() -> None:
    token = new_token()
    first, second = hash_token(token), hash_token(token)
    assert first != second  # a fresh salt each time
    assert first.startswith(f"{HASH_SCHEME}$")
    assert token not in first
    assert token.removeprefix("hmd_") not in first
    assert len(token) >= 40  # 256 random bits
    assert new_token() != token


def test_a_token_matches_its_own_entry_only() -> None:
    entries = [_entry("alpha-token", "alpha"), _entry("bravo-token", "bravo")]
    found = find_token("bravo-token", entries)
    assert found is not None
    assert found.name == "bravo"
    assert find_token(" alpha-token ", entries) is not None  # surrounding blanks trimmed
    assert find_token("alpha-tokem", entries) is None
    assert find_token("", [_entry("", "empty")]) is None


class _Counting(list[TokenEntry]):
    """Records how many entries were looked at."""

    seen = 0

    def __iter__(self) -> Iterator[TokenEntry]:
        for entry in super().__iter__():
            self.seen += 1
            yield entry


def test_every_entry_is_checked_even_after_a_match() -> None:
    entries = _Counting([_entry(f"token-{i}", f"t{i}") for i in range(5)])
    found = find_token("token-0", entries)
    assert found is not None
    assert found.name == "t0"
    assert entries.seen == 5  # no early exit: time does not tell which token matched


@pytest.mark.parametrize(
    "text",
    [
        "sha256$abc$def",
        f"{HASH_SCHEME}$only-one-part",
        f"{HASH_SCHEME}$!!!$!!!",
        f"{HASH_SCHEME}$c2FsdA$ZGlnZXN0",  # too short
    ],
)
def test_malformed_hashes_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"."):
        parse_hash(text)


def _file(*entries: str) -> str:
    return "\n".join(entries)


def _token(name: str, role: str = "read", scope: str = "", token: str = "t") -> str:  # noqa: S107
    scope_line = f'scope = "{scope}"\n' if scope else ""
    return (
        f'[[tokens]]\nname = "{name}"\nrole = "{role}"\n{scope_line}hash = "{hash_token(token)}"\n'
    )


def test_a_tokens_file_grants_roles_and_scopes() -> None:
    table = parse_token_file(
        _file(
            _token("search", scope="team_ids=search&virtual_key_ids=vk-1,vk-2", token="s"),
            _token("ops", role="admin", token="o"),
            '[[identities]]\nname = "alice@example.com"\nrole = "delete"\n'
            'scope = "user_ids=alice"\n',
        )
    )
    search = find_token("s", table.tokens)
    assert search is not None
    assert (search.name, search.role, search.kind) == ("search", "read", "token")
    assert search.scope.params == {"team_ids": "search", "virtual_key_ids": "vk-1,vk-2"}
    ops = find_token("o", table.tokens)
    assert ops is not None
    assert (ops.role, ops.scope.unscoped) == ("admin", True)
    alice = table.identities["alice@example.com"]
    assert (alice.kind, alice.role, alice.scope.params) == (
        "identity",
        "delete",
        {"user_ids": "alice"},
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (_token("a", scope="status=bogus"), "token 'a': scope parameter 'status': status must be"),
        (_token("a", scope="period=24h"), "token 'a': scope parameter 'period'"),
        (_token("a", scope="content_search=x"), "scope parameter 'content_search'"),
        (_token("a", scope="virtual_key_ids="), "scope parameter 'virtual_key_ids': .*empty"),
        (_token("a", scope="team_ids=a&team_ids=b"), "'team_ids': team_ids is given 2 times"),
        (_token("a", scope="virtual_key_idz=vk"), "scope parameter 'virtual_key_idz': unknown"),
        (_token("a", role="admin", scope="team_ids=x"), "token 'a': role admin sees every log"),
        (_token("a", role="owner"), "token 'a': Invalid enum value 'owner'"),
        ('[[tokens]]\nname = "a"\nrole = "read"\n', "token 'a': hash is missing"),
        ('[[tokens]]\nname = "a"\nrole = "read"\nhash = "x"\n', "token 'a': hash: expected"),
        (_token("a") + 'rol = "x"\n', "token 'a': Object contains unknown field `rol`"),
        (_token("bad name"), "name must match"),
        (_token("a") + _token("a"), "tokens: each name once; given twice: a"),
        ('[[identities]]\nname = "b"\nrole = "read"\nhash = "x"\n', "identity 'b': an identity"),
        ("[[tokens]\n", "Expected"),
        ("[[users]]\n", "unknown field `users`"),
    ],
)
def test_a_bad_tokens_file_names_the_entry_and_the_problem(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_token_file(text)


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _write(path: Path, text: str, mtime: int) -> None:
    path.write_text(text)
    os.utime(path, ns=(mtime, mtime))


def test_the_file_is_reread_when_it_changes_at_most_every_interval(tmp_path: Path) -> None:
    path = tmp_path / "tokens.toml"
    _write(path, _token("old", token="old-token"), 1_000_000_000)
    clock = _Clock()
    tokens = TokenFile(str(path), interval=5, clock=clock)
    assert find_token("old-token", tokens.current().tokens) is not None

    _write(path, _token("new", token="new-token"), 2_000_000_000)
    clock.now = 4.9
    assert find_token("new-token", tokens.current().tokens) is None  # not checked yet
    clock.now = 5.0
    assert find_token("new-token", tokens.current().tokens) is not None  # rotated
    assert find_token("old-token", tokens.current().tokens) is None  # revoked


def test_a_broken_or_missing_file_keeps_the_last_good_tokens(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "tokens.toml"
    _write(path, _token("good", token="good-token"), 1_000_000_000)
    clock = _Clock()
    tokens = TokenFile(str(path), interval=1, clock=clock)

    _write(path, _token("broken", scope="status=nope"), 2_000_000_000)
    clock.now = 1
    with caplog.at_level(logging.ERROR, logger="api.tokens"):
        assert find_token("good-token", tokens.current().tokens) is not None
    assert "token 'broken': scope parameter 'status'" in caplog.text
    assert "keeping the previous tokens" in caplog.text
    caplog.clear()
    clock.now = 2
    with caplog.at_level(logging.ERROR, logger="api.tokens"):
        tokens.current()
    assert caplog.text == ""  # logged once per change, not at every check

    path.unlink()
    clock.now = 3
    assert find_token("good-token", tokens.current().tokens) is not None

    _write(path, _token("fixed", token="fixed-token"), 3_000_000_000)
    clock.now = 4
    assert find_token("fixed-token", tokens.current().tokens) is not None


def test_a_broken_file_at_start_up_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "tokens.toml"
    _write(path, _token("a", scope="nope=1"), 1)
    with pytest.raises(ConfigError, match=f"tokens file {path}: token 'a'"):
        TokenFile(str(path), interval=1)
    with pytest.raises(ConfigError, match="No such file"):
        TokenFile(str(tmp_path / "missing.toml"), interval=1)


def test_the_cli_prints_the_token_once_and_an_entry_that_accepts_it() -> None:
    out, err = io.StringIO(), io.StringIO()
    code = token_cli(
        ["create", "--name", "search", "--role", "read", "--scope", "virtual_key_ids=vk-1,vk-2"],
        out,
        err,
    )
    assert (code, err.getvalue()) == (0, "")
    printed = out.getvalue()
    token = printed.split("keep it secret):\n", 1)[1].split()[0]
    assert printed.count(token) == 1
    table = parse_token_file(printed.split("add to the tokens file:\n", 1)[1])
    access = find_token(token, table.tokens)
    assert access is not None
    assert (access.name, access.role) == ("search", "read")
    assert access.scope.params == {"virtual_key_ids": "vk-1,vk-2"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--name", "a", "--role", "read", "--scope", "status=x"], "--scope: parameter 'status'"),
        (["--name", "a", "--role", "admin", "--scope", "team_ids=t"], "role admin sees every"),
        (["--name", "a b", "--role", "read"], "--name must match"),
    ],
)
def test_the_cli_refuses_what_the_file_would(args: list[str], message: str) -> None:
    out, err = io.StringIO(), io.StringIO()
    assert token_cli(["create", *args], out, err) == 2
    assert message in err.getvalue()
    assert out.getvalue() == ""


def test_python_m_api_refuses_to_start_with_a_broken_tokens_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "tokens.toml"
    _write(path, _token("search", scope="team_idz=search"), 1)
    monkeypatch.setenv("HEIMDALL_API_TOKENS_FILE", str(path))
    assert api_main([]) == 2
    assert capsys.readouterr().err == (
        f"error: tokens file {path}: token 'search': scope parameter 'team_idz': unknown query "
        "parameter 'team_idz'; see /docs for the supported parameters\n"
    )


def test_check_soon_rereads_at_the_next_request(tmp_path: Path) -> None:
    path = tmp_path / "tokens.toml"
    _write(path, _token("old", token="old-token"), 1_000_000_000)
    tokens = TokenFile(str(path), interval=3600, clock=_Clock())
    _write(path, _token("new", token="new-token"), 1_000_000_000)  # same mtime
    assert find_token("new-token", tokens.current().tokens) is None
    tokens.check_soon()
    assert find_token("new-token", tokens.current().tokens) is not None


async def test_sighup_asks_for_a_check() -> None:
    called: list[bool] = []
    watch_sighup(lambda: called.append(True))
    loop = asyncio.get_running_loop()
    try:
        # Only signal once the handler is in place (the default action would end pytest).
        assert signal.getsignal(signal.SIGHUP) not in (signal.SIG_DFL, signal.SIG_IGN, None)
        os.kill(os.getpid(), signal.SIGHUP)
        for _ in range(100):
            if called:
                break
            await asyncio.sleep(0.01)
        assert called == [True]
    finally:
        loop.remove_signal_handler(signal.SIGHUP)
