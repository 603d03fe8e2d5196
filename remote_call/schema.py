"""JSON Schema for the wire protocol, generated from the pydantic models (the one source of truth).

Two documents (JSON Schema 2020-12), checked in under docs/ for client writers, e.g. a business's browser:

- ``docs/protocol.schema.json``: the signaling messages on the websocket; ``$defs/ClientMessage`` (client →
  server) and ``$defs/ServerMessage`` (server → client, with the relayed ``sdp`` and ``ice_candidate``),
  each a ``oneOf`` told apart by ``type``;
- ``docs/incall.schema.json``: the JSON messages on the call's ``control`` data channel, and the JSON of a
  ``document_offer`` frame on the ``documents`` channel (``$defs/InCallMessage``).

What pydantic's generated schema leaves looser than the server is tightened here: ``type`` (and a
credential's ``kind``) is required although the models give it a default, and a map whose keys have a
pattern refuses other keys. Unknown fields are refused everywhere (``additionalProperties: false``, from the
models' ``extra="forbid"``).

    python -m remote_call.schema --write   # regenerate docs/*.schema.json after changing a model
    python -m remote_call.schema --check   # exit 1 when a checked-in file is stale (CI, tests)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Annotated, Any, Literal, cast

from pydantic import Field, TypeAdapter

from remote_call import incall
from remote_call import protocol as p

DOCS = Path(__file__).resolve().parents[1] / "docs"
DRAFT = "https://json-schema.org/draft/2020-12/schema"
GENERATED = "Generated from the pydantic models by `python -m remote_call.schema --write`; do not edit."
ServerToClient = p.ServerMessage | p.SessionDescription | p.IceCandidate  # sdp and ICE are relayed


def _document(title: str, description: str, unions: dict[str, Any]) -> dict[str, Any]:
    """One schema document whose ``$defs`` hold every model and a ``oneOf`` per named union."""
    adapters: list[tuple[str, Literal["validation"], TypeAdapter[Any]]] = [
        (name, "validation", TypeAdapter(cast(Any, Annotated[union, Field(discriminator="type")])))
        for name, union in unions.items()
    ]
    keyed, shared = TypeAdapter.json_schemas(adapters, ref_template="#/$defs/{model}")
    definitions: dict[str, Any] = dict(shared.get("$defs", {}))
    for (name, _mode), schema in keyed.items():
        definitions[name] = {"description": f"Any {name}, told apart by `type`.", **schema}
    for schema in definitions.values():
        _tighten(schema)
    refs = [{"$ref": f"#/$defs/{name}"} for name in unions]
    return {
        "$schema": DRAFT,
        "title": title,
        "description": f"{description} {GENERATED}",
        "x-protocol-version": p.PROTOCOL_VERSION,
        **({"anyOf": refs} if len(refs) > 1 else refs[0]),
        "$defs": dict(sorted(definitions.items())),
    }


def _tighten(schema: Any) -> None:
    """Require the discriminators (``type``, ``kind``) and refuse keys outside a map's key pattern."""
    if isinstance(schema, list):
        for item in schema:
            _tighten(item)
        return
    if not isinstance(schema, dict):
        return
    properties = schema.get("properties", {})
    for key in ("type", "kind"):
        if isinstance(properties.get(key), dict) and "const" in properties[key]:
            required = schema.setdefault("required", [])
            if key not in required:
                required.insert(0, key)
    if "patternProperties" in schema and "additionalProperties" not in schema:
        schema["additionalProperties"] = False
    for value in schema.values():
        _tighten(value)


def signaling_schema() -> dict[str, Any]:
    """The websocket's messages: ``$defs/ClientMessage`` and ``$defs/ServerMessage``."""
    return _document(
        "Remote Madoguchi signaling protocol",
        "Every websocket frame is one JSON object of ClientMessage (client to server) or ServerMessage"
        " (server to client); see docs/protocol.md.",
        {"ClientMessage": p.ClientMessage, "ServerMessage": ServerToClient},
    )


def incall_schema() -> dict[str, Any]:
    """The call's ``control`` channel messages (and a ``document_offer`` frame's JSON): ``InCallMessage``."""
    return _document(
        "Remote Madoguchi in-call messages (peer to peer, on the call's data channels)",
        "A text message on the `control` channel is one InCallMessage. On the binary `documents` channel a"
        ' frame b"O" + JSON carries a document_offer; b"C" + 1 byte id length + id + bytes carries a chunk'
        " (docs/protocol.md, Documents).",
        {"InCallMessage": incall.InCallMessage},
    )


def rendered() -> dict[str, str]:
    """File name under docs/ → its exact text."""
    documents = {"protocol.schema.json": signaling_schema(), "incall.schema.json": incall_schema()}
    return {name: json.dumps(doc, indent=2, ensure_ascii=False) + "\n" for name, doc in documents.items()}


def stale(docs: Path = DOCS) -> list[str]:
    """Names of the checked-in schema files that are missing or differ from the models."""
    return [
        name
        for name, text in rendered().items()
        if not (docs / name).is_file() or (docs / name).read_text(encoding="utf-8") != text
    ]


def write(docs: Path = DOCS) -> list[Path]:
    written = []
    for name, text in rendered().items():
        path = docs / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m remote_call.schema", description=__doc__.splitlines()[0])
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--write", action="store_true", help="regenerate docs/*.schema.json")
    action.add_argument("--check", action="store_true", help="exit 1 when a checked-in file is stale")
    parser.add_argument("--docs", type=Path, default=DOCS, help="the directory of the schema files")
    args = parser.parse_args(argv)
    if args.write:
        for path in write(args.docs):
            print(f"wrote {path}")
        return 0
    outdated = stale(args.docs)
    if outdated:
        names = ", ".join(str(args.docs / name) for name in outdated)
        print(
            f"stale JSON Schema: {names} no longer match the pydantic models in remote_call/protocol.py and"
            " remote_call/incall.py; run `python -m remote_call.schema --write` and commit the result",
            file=sys.stderr,
        )
        return 1
    print("JSON Schema files are current")
    return 0


if __name__ == "__main__":
    sys.exit(main())
