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
from typing import TYPE_CHECKING

from config import AppConfig, ConfigError, load_config
from remote_call.protocol import INTERPRETER_LANGUAGES
from signaling_server.auth import Authenticator, hash_password
from signaling_server.store import Store

if TYPE_CHECKING:
    from signaling_server.audit import AuditLog

ROLES = ("officer", "supervisor", "it_admin", "interpreter")


def _store(args: argparse.Namespace) -> tuple[Store, AppConfig]:
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
    # An interpreter's skills are languages (remote_call.protocol.INTERPRETER_LANGUAGES), not departments.
    interpreter = args.role == "interpreter"
    departments = set(INTERPRETER_LANGUAGES) if interpreter else {d.id for d in config.departments}
    skills: dict[str, str] = {}
    for item in args.skill:
        dep, _, level = item.partition(":")
        level = level or "primary"
        if dep not in departments:
            raise SystemExit(
                f"--skill {item!r}: unknown {'language' if interpreter else 'department'}"
                f" {dep!r}; known: {', '.join(sorted(departments))}"
            )
        if level not in ("primary", "secondary"):
            raise SystemExit(f"--skill {item!r}: level must be primary or secondary")
        skills[dep] = level
    try:
        store.add_officer(
            args.username, args.name or args.username, args.role, hash_password(_read_password(args)), skills
        )
    except ValueError as exc:
        raise SystemExit(str(exc)) from None
    _audit(store).append(
        "admin",
        "account_created",
        args.username,
        {"role": args.role, "departments": ",".join(skills)},
    )
    print(f"created {args.role} {args.username} serving {', '.join(skills) or 'no department'}")
    return 0


def cmd_issue_kiosk_token(args: argparse.Namespace) -> int:
    store, config = _store(args)
    known = {k.id for k in config.kiosks}
    if args.kiosk_id not in known and not args.force:
        raise SystemExit(
            f"kiosk {args.kiosk_id!r} is not in the configuration (known: {', '.join(sorted(known))});"
            " use --force to issue anyway"
        )
    token = Authenticator(store, session_ttl_s=60).issue_kiosk_token(args.kiosk_id)
    _audit(store).append("admin", "kiosk_token_issued", args.kiosk_id)
    print(token)
    print(
        f"token issued for {args.kiosk_id}; it is shown only now — put it in the kiosk's token file",
        file=sys.stderr,
    )
    return 0


def cmd_revoke_kiosk(args: argparse.Namespace) -> int:
    store, _ = _store(args)
    if not store.revoke_kiosk_token(args.kiosk_id):
        raise SystemExit(f"kiosk {args.kiosk_id!r} has no token")
    _audit(store).append("admin", "kiosk_token_revoked", args.kiosk_id)
    print(f"revoked the token of {args.kiosk_id}")
    return 0


def _account(store: Store, username: str) -> None:
    if store.officer(username) is None:
        raise SystemExit(f"no account named {username!r} (madoguchi-admin list-officers)")


def cmd_set_disabled(args: argparse.Namespace) -> int:
    """disable / enable: a disabled account's sessions end too; the running server closes its live
    connections within seconds (signaling_server.revocation)."""
    store, _ = _store(args)
    _account(store, args.username)
    disabled = args.command == "disable"
    store.set_disabled(args.username, disabled)
    ended = store.end_sessions(args.username) if disabled else 0
    change = "disabled" if disabled else "enabled"
    _audit(store).append(
        "admin", "account_changed", args.username, {"change": change, "sessions_ended": ended}
    )
    print(f"{change} {args.username}" + (f"; ended {ended} sessions" if disabled else ""))
    return 0


def cmd_set_password(args: argparse.Namespace) -> int:
    """A new password ends every session of the account (everyone signed in with the old one)."""
    store, _ = _store(args)
    _account(store, args.username)
    store.set_password_hash(args.username, hash_password(_read_password(args)))
    ended = store.end_sessions(args.username)
    _audit(store).append(
        "admin", "account_changed", args.username, {"change": "password", "sessions_ended": ended}
    )
    print(f"password of {args.username} changed; ended {ended} sessions")
    return 0


def cmd_revoke_sessions(args: argparse.Namespace) -> int:
    store, _ = _store(args)
    _account(store, args.username)
    ended = store.end_sessions(args.username)
    _audit(store).append(
        "admin", "account_changed", args.username, {"change": "sessions_revoked", "sessions_ended": ended}
    )
    print(f"ended {ended} sessions of {args.username}")
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
    fleet = provision(
        store,
        config,
        kiosk_ids=[k.id for k in config.kiosks],
        officers=[args.officer],
        password=args.demo_password,
    )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({"kiosk_tokens": fleet.kiosk_tokens, "officer_passwords": fleet.officer_passwords}, fh)
    print(f"demo credentials written to {out}")
    return 0


def _audit(store: Store) -> AuditLog:
    from signaling_server.audit import AuditLog

    return AuditLog(store.conn)


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from signaling_server.audit import parse_anchor, verify_cli

    config = load_config(args.config)
    anchor = parse_anchor(args.anchor) if args.anchor else None
    return verify_cli(args.database or config.server.database, anchor)


def cmd_audit_show(args: argparse.Namespace) -> int:
    store, _ = _store(args)
    for entry in _audit(store).entries(since_seq=args.since, limit=args.limit):
        details = json.dumps(entry.details, ensure_ascii=False)
        print(f"{entry.seq}\t{entry.at:.0f}\t{entry.actor}\t{entry.action}\t{entry.target}\t{details}")
    return 0


def cmd_tls_init_ca(args: argparse.Namespace) -> int:
    from signaling_server.tls import create_ca

    cert, key = create_ca(args.dir)
    print(f"development CA: {cert} (key {key}, mode 0600) — install the certificate on kiosks and consoles")
    return 0


def cmd_tls_issue(args: argparse.Namespace) -> int:
    from signaling_server.tls import issue_server_cert

    cert, key = issue_server_cert(args.ca_cert, args.ca_key, args.host, args.dir)
    print(f"server certificate for {', '.join(args.host)}: {cert} (key {key}); set server.tls_cert/tls_key")
    return 0


def cmd_tls_show(args: argparse.Namespace) -> int:
    from signaling_server.tls import describe_certificate

    print(describe_certificate(args.path))
    return 0


def cmd_turn_config(args: argparse.Namespace) -> int:
    from signaling_server.turn import coturn_config

    config = load_config(args.config)
    if config.turn is None:
        raise SystemExit("the configuration has no [turn] section (urls, secret, ttl_s)")
    print(
        coturn_config(
            [config.turn.secret, *args.old_secret],
            realm=args.realm,
            listening_ip=args.listen,
            relay_ip=args.relay,
            allowed_peer_networks=args.allow_peer,
            tls_cert=args.tls_cert,
            tls_key=args.tls_key,
            tls_listening_port=args.tls_port,
        ),
        end="",
    )
    return 0


def cmd_documents_new_key(args: argparse.Namespace) -> int:
    from signaling_server.case_documents import new_key

    print(new_key())
    print(
        'put it under [documents] keys = { <id> = "..." } and set current_key; keep it secret',
        file=sys.stderr,
    )
    return 0


def cmd_documents_rekey(args: argparse.Namespace) -> int:
    from signaling_server.case_documents import CaseDocuments, parse_key

    store, config = _store(args)
    docs = config.documents
    if docs.current_key is None:
        raise SystemExit("no [documents] keys configured")
    keys = {key_id: parse_key(text) for key_id, text in docs.keys.items()}
    count = CaseDocuments(store.conn, keys, docs.current_key).rekey()
    _audit(store).append("admin", "secret_rotated", "documents", {"reencrypted": count})
    print(f"re-encrypted {count} documents under key {docs.current_key!r}")
    return 0


def _account_commands(sub: argparse._SubParsersAction) -> None:
    for name, text in (("disable", "disable a staff account and end its sessions"), ("enable", "enable it")):
        toggle = sub.add_parser(name, help=text)
        toggle.add_argument("username")
        toggle.set_defaults(func=cmd_set_disabled)
    password = sub.add_parser("set-password", help="set a staff account's password; ends its sessions")
    password.add_argument("username")
    password.add_argument("--password-stdin", action="store_true")
    password.set_defaults(func=cmd_set_password)
    sessions = sub.add_parser("revoke-sessions", help="end every session of a staff account")
    sessions.add_argument("username")
    sessions.set_defaults(func=cmd_revoke_sessions)


def _add_turn_config(sub: argparse._SubParsersAction) -> None:
    turn = sub.add_parser("turn-config", help="print a coturn turnserver.conf matching [turn]")
    turn.add_argument("--realm", required=True)
    turn.add_argument("--listen", required=True, help="coturn's listening IP")
    turn.add_argument("--relay", required=True, help="coturn's relay IP")
    turn.add_argument("--allow-peer", action="append", required=True, help="kiosk/console network (repeat)")
    turn.add_argument("--old-secret", action="append", default=[], help="a secret being rotated out")
    turn.add_argument("--tls-cert", help="certificate for TURN over TLS (the internet-side profile)")
    turn.add_argument("--tls-key", help="its private key")
    turn.add_argument("--tls-port", type=int, default=443, help="TLS listening port (default 443)")
    turn.set_defaults(func=cmd_turn_config)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="madoguchi-admin", description=__doc__)
    parser.add_argument(
        "--config", help="TOML configuration (default: $MADOGUCHI_CONFIG or Morioka defaults)"
    )
    parser.add_argument("--database", help="override server.database")
    sub = parser.add_subparsers(dest="command", required=True)

    add = sub.add_parser("add-officer", help="create a staff account")
    add.add_argument("username")
    add.add_argument("--name", help="display name, e.g. 盛岡 花子")
    add.add_argument("--role", choices=ROLES, default="officer")
    add.add_argument("--skill", action="append", default=[], metavar="DEPT|LANGUAGE[:primary|secondary]")
    add.add_argument("--password-stdin", action="store_true")
    add.set_defaults(func=cmd_add_officer)

    issue = sub.add_parser("issue-kiosk-token", help="issue (or replace) a kiosk's device token")
    issue.add_argument("kiosk_id")
    issue.add_argument("--force", action="store_true", help="issue for a kiosk not in the configuration")
    issue.set_defaults(func=cmd_issue_kiosk_token)

    revoke = sub.add_parser("revoke-kiosk", help="revoke a kiosk's device token")
    revoke.add_argument("kiosk_id")
    revoke.set_defaults(func=cmd_revoke_kiosk)

    _account_commands(sub)  # disable, enable, set-password, revoke-sessions

    lst = sub.add_parser("list-officers", help="list staff accounts")
    lst.set_defaults(func=cmd_list_officers)

    demo = sub.add_parser("provision-demo", help="tokens for every configured kiosk and a demo officer")
    demo.add_argument("--out", required=True)
    demo.add_argument("--officer", default="demo-officer")
    demo.add_argument("--demo-password", default="madoguchi-demo")
    demo.set_defaults(func=cmd_provision_demo)

    audit = sub.add_parser("audit", help="the hash-chained audit trail").add_subparsers(
        dest="audit_command", required=True
    )
    verify = audit.add_parser("verify", help="check the chain; exit 1 if it was tampered with")
    verify.add_argument("--anchor", help="SEQ:HASH recorded earlier elsewhere (detects a full rewrite)")
    verify.set_defaults(func=cmd_audit_verify)
    show = audit.add_parser("show", help="print entries")
    show.add_argument("--since", type=int, default=0)
    show.add_argument("--limit", type=int, default=100)
    show.set_defaults(func=cmd_audit_show)

    tls = sub.add_parser("tls", help="development CA and server certificates").add_subparsers(
        dest="tls_command", required=True
    )
    init_ca = tls.add_parser("init-ca", help="create a development certificate authority")
    init_ca.add_argument("--dir", required=True)
    init_ca.set_defaults(func=cmd_tls_init_ca)
    issue_cert = tls.add_parser("issue", help="issue a server certificate signed by the CA")
    issue_cert.add_argument("--ca-cert", required=True)
    issue_cert.add_argument("--ca-key", required=True)
    issue_cert.add_argument("--host", action="append", required=True, help="DNS name or IP (repeat)")
    issue_cert.add_argument("--dir", required=True)
    issue_cert.set_defaults(func=cmd_tls_issue)
    show_cert = tls.add_parser("show", help="describe a certificate")
    show_cert.add_argument("path")
    show_cert.set_defaults(func=cmd_tls_show)

    documents = sub.add_parser("documents", help="keys of documents saved to cases").add_subparsers(
        dest="documents_command", required=True
    )
    documents.add_parser("new-key", help="print a new 256-bit key").set_defaults(func=cmd_documents_new_key)
    documents.add_parser("rekey", help="re-encrypt every document under the current key").set_defaults(
        func=cmd_documents_rekey
    )

    _add_turn_config(sub)
    from signaling_server.case_export_cli import register as register_case_commands

    register_case_commands(sub)  # case new-transfer-key | export | import (zone hand-over)
    from config.translations import register as register_config_commands

    register_config_commands(sub)  # config check [--translations] [--json]
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"madoguchi-admin: {exc.strerror or exc}: {exc.filename or ''}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"madoguchi-admin: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
