"""`madoguchi-admin case …`: export finished calls on the internet side, import them on the LGWAN side.

See ``signaling_server.case_export`` for the file and its checks. The transfer key lives in a file of its
own (base64, 256 bits) that only its owner may read: a key readable by others is refused.
"""

from __future__ import annotations

import argparse
import os
import stat
import sys
from pathlib import Path

from config import load_config
from signaling_server.case_documents import CaseDocuments, DocumentError, new_key, parse_key
from signaling_server.case_export import ExportError, export_calls, import_calls
from signaling_server.store import Store


def read_transfer_key(path: str) -> bytes:
    """The key in ``path``; refused with the reason when missing, malformed or readable by others."""
    try:
        info = os.stat(path)
        text = Path(path).read_text().strip()
    except OSError as exc:
        raise SystemExit(f"transfer key {path}: {exc.strerror}") from None
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SystemExit(
            f"transfer key {path} is readable by others (mode {info.st_mode & 0o777:o}); chmod 600 it"
        )
    try:
        return parse_key(text)
    except DocumentError as exc:
        raise SystemExit(f"transfer key {path}: {exc}") from None


def _open(args: argparse.Namespace) -> tuple[Store, CaseDocuments]:
    config = load_config(args.config)
    docs = config.documents
    if docs.current_key is None:
        raise SystemExit("no [documents] keys configured: saved documents cannot be read or stored")
    keys = {key_id: parse_key(text) for key_id, text in docs.keys.items()}
    store = Store(args.database or config.server.database)
    return store, CaseDocuments(store.conn, keys, docs.current_key)


def cmd_new_transfer_key(args: argparse.Namespace) -> int:
    path = Path(args.out)
    if path.exists():
        raise SystemExit(f"{path} exists; remove it first (a transfer key is never overwritten)")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(new_key() + "\n")
    print(f"transfer key written to {path} (mode 600); copy it to the other side by the approved channel")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    key = read_transfer_key(args.key_file)
    store, documents = _open(args)
    try:
        blob, result = export_calls(store, documents, args.call_ids, key=key, actor=args.actor)
    except (ExportError, DocumentError) as exc:
        raise SystemExit(f"export refused: {exc}") from None
    Path(args.out).write_bytes(blob)
    print(f"exported {len(result.calls)} calls, {result.documents} documents to {args.out}")
    print(f"sha256 {result.sha256}  (write it in the transfer ledger)")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    key = read_transfer_key(args.key_file)
    store, documents = _open(args)
    try:
        result = import_calls(store, documents, Path(args.file).read_bytes(), key=key, actor=args.actor)
    except (ExportError, OSError) as exc:
        print(f"import refused: {exc}", file=sys.stderr)
        return 1
    print(f"imported {len(result.calls)} calls, {result.documents} documents; sha256 {result.sha256}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``case new-transfer-key | export | import`` to madoguchi-admin's parser."""
    case = sub.add_parser("case", help="hand finished calls between zones as files").add_subparsers(
        dest="case_command", required=True
    )
    new = case.add_parser("new-transfer-key", help="write a new transfer key file (mode 600)")
    new.add_argument("out")
    new.set_defaults(func=cmd_new_transfer_key)
    export = case.add_parser("export", help="export finished calls and their documents to a file")
    export.add_argument("call_ids", nargs="+")
    export.add_argument("--out", required=True)
    export.add_argument("--key-file", required=True)
    export.add_argument("--actor", default="admin", help="who exports (for the audit trail)")
    export.set_defaults(func=cmd_export)
    imp = case.add_parser("import", help="check and store an export file")
    imp.add_argument("file")
    imp.add_argument("--key-file", required=True)
    imp.add_argument("--actor", default="admin", help="who imports (for the audit trail)")
    imp.set_defaults(func=cmd_import)
