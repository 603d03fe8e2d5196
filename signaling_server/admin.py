"""`madoguchi-admin`: officer accounts, kiosk device tokens and other administration of the server's database.

Tokens are printed once, when issued; only their hash is stored. Passwords are read from a prompt or from
standard input (``--password-stdin``), never from the command line.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from pathlib import Path

from config import ConfigError, load_config
from signaling_server.auth import Authenticator, hash_password
from signaling_server.store import Store

ROLES = ("officer", "supervisor", "it_admin")


def _store(args: argparse.Namespace) -> tuple[Store, object]:
    config = load_config(args.config)
    return Store(args.database or config.server.database), config


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            raise SystemExit("the passwords differ")
    if len(password) < 8:
        raise SystemExit("a password needs at least 8 characters")
    return password


def cmd_add_officer(args: argparse.Namespace) -> int:
    store, config = _store(args)
    departments = {d.id for d in config.departments}  # type: ignore[attr-defined]
    skills: dict[str, str] = {}
    for item in args.skill:
        dep, _, level = item.partition(":")
        level = level or "primary"
        if dep not in departments:
            raise SystemExit(f"--skill {item!r}: unknown department {dep!r}; known: {', '.join(sorted(departments))}")
        if level not in ("primary", "secondary"):
            raise SystemExit(f"--skill {item!r}: level must be primary or secondary")
        skills[dep] = level
    try:
        store.add_officer(args.username, args.name or args.username, args.role, hash_password(_read_password(args)),
                          skills)
    except ValueError as exc:
        raise SystemExit(str(exc)) from None
    print(f"created {args.role} {args.username} serving {', '.join(skills) or 'no department'}")
    return 0


def cmd_issue_kiosk_token(args: argparse.Namespace) -> int:
    store, config = _store(args)
    known = {k.id for k in config.kiosks}  # type: ignore[attr-defined]
    if args.kiosk_id not in known and not args.force:
        raise SystemExit(f"kiosk {args.kiosk_id!r} is not in the configuration (known: {', '.join(sorted(known))});"
                         " use --force to issue anyway")
    token = Authenticator(store, session_ttl_s=60).issue_kiosk_token(args.kiosk_id)
    print(token)
    print(f"token issued for {args.kiosk_id}; it is shown only now — put it in the kiosk's token file",
          file=sys.stderr)
    return 0


def cmd_revoke_kiosk(args: argparse.Namespace) -> int:
    store, _ = _store(args)
    if not store.revoke_kiosk_token(args.kiosk_id):
        raise SystemExit(f"kiosk {args.kiosk_id!r} has no token")
    print(f"revoked the token of {args.kiosk_id}")
    return 0


def cmd_list_officers(args: argparse.Namespace) -> int:
    store, _ = _store(args)
    for account in store.officers():
        skills = ", ".join(f"{d}:{level}" for d, level in account.skills.items())
        print(f"{account.username}\t{account.role}\t{account.display_name}\t{skills}")
    return 0


def cmd_provision_demo(args: argparse.Namespace) -> int:
    """Demo accounts: one token per configured kiosk and one officer, written to a private JSON file."""
    from signaling_server.embedded import provision

    store, config = _store(args)
    fleet = provision(store, config, kiosk_ids=[k.id for k in config.kiosks],  # type: ignore[attr-defined]
                      officers=[args.officer], password=args.demo_password)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({"kiosk_tokens": fleet.kiosk_tokens, "officer_passwords": fleet.officer_passwords}, fh)
    print(f"demo credentials written to {out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="madoguchi-admin", description=__doc__)
    parser.add_argument("--config", help="TOML configuration (default: $MADOGUCHI_CONFIG or Morioka defaults)")
    parser.add_argument("--database", help="override server.database")
    sub = parser.add_subparsers(dest="command", required=True)

    add = sub.add_parser("add-officer", help="create a staff account")
    add.add_argument("username")
    add.add_argument("--name", help="display name, e.g. 盛岡 花子")
    add.add_argument("--role", choices=ROLES, default="officer")
    add.add_argument("--skill", action="append", default=[], metavar="DEPT[:primary|secondary]")
    add.add_argument("--password-stdin", action="store_true")
    add.set_defaults(func=cmd_add_officer)

    issue = sub.add_parser("issue-kiosk-token", help="issue (or replace) a kiosk's device token")
    issue.add_argument("kiosk_id")
    issue.add_argument("--force", action="store_true", help="issue for a kiosk not in the configuration")
    issue.set_defaults(func=cmd_issue_kiosk_token)

    revoke = sub.add_parser("revoke-kiosk", help="revoke a kiosk's device token")
    revoke.add_argument("kiosk_id")
    revoke.set_defaults(func=cmd_revoke_kiosk)

    lst = sub.add_parser("list-officers", help="list staff accounts")
    lst.set_defaults(func=cmd_list_officers)

    demo = sub.add_parser("provision-demo", help="tokens for every configured kiosk and a demo officer")
    demo.add_argument("--out", required=True)
    demo.add_argument("--officer", default="demo-officer")
    demo.add_argument("--demo-password", default="madoguchi-demo")
    demo.set_defaults(func=cmd_provision_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
