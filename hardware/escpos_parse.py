"""A small ESC/POS command parser: enough to read back what our printer driver sends and to let the fake
printer answer real-time status requests (DLE EOT n) at command boundaries, never inside image data.

`parse(data)` returns the commands and the number of bytes consumed (a trailing incomplete command is left
for the next call, as a printer's receive buffer would).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PIL import Image

ESC, GS, DLE, FS, LF = 0x1B, 0x1D, 0x10, 0x1C, 0x0A
EOT = 0x04

# ESC x n: commands with exactly one parameter byte.
_ESC_ONE = set(b"!-2a3dEGJMRtUV{c") - {ord("2")}
_GS_ONE = set(b"!BHhfwbaP")


@dataclass(frozen=True)
class Command:
    name: str  # e.g. "ESC @", "GS v 0", "GS ( k", "DLE EOT", "GS V", "text"
    data: bytes  # the whole command as sent
    payload: bytes = b""  # parameters after the fixed header (image data, QR function data, text)


def _need(data: bytes, pos: int, count: int) -> bool:
    return pos + count <= len(data)


# A command parser reads the command starting at ``pos`` (its prefix byte) and returns it with the position
# after it, or None when the data ends inside it (the rest comes with the next call).
Parsed = tuple[Command, int] | None


def _esc(data: bytes, pos: int) -> Parsed:
    if not _need(data, pos, 2):
        return None
    op = data[pos + 1]
    if op in (ord("@"), ord("2"), ord("<")):
        end = pos + 2
    elif op in _ESC_ONE:
        if not _need(data, pos, 3):
            return None
        end = pos + 3
    else:
        end = pos + 2  # unknown: skip the pair
    return Command(f"ESC {chr(op)}", data[pos:end], data[pos + 2 : end]), end


def _gs_raster(data: bytes, pos: int) -> Parsed:
    """GS v 0 m xL xH yL yH d1...dk"""
    if not _need(data, pos, 8):
        return None
    width_bytes = data[pos + 4] | data[pos + 5] << 8
    height = data[pos + 6] | data[pos + 7] << 8
    end = pos + 8 + width_bytes * height
    if end > len(data):
        return None
    return Command("GS v 0", data[pos:end], data[pos + 3 : end]), end


def _gs_block(data: bytes, pos: int) -> Parsed:
    """GS ( k / GS ( L: pL pH [data]; GS 8 L: p1 p2 p3 p4 [data]."""
    op = data[pos + 1]
    header = 7 if op == ord("8") else 5
    if not _need(data, pos, header):
        return None
    if op == ord("8"):
        length = int.from_bytes(data[pos + 3 : pos + 7], "little")
    else:
        length = data[pos + 3] | data[pos + 4] << 8
    end = pos + header + length
    if end > len(data):
        return None
    return Command(f"GS {chr(op)} {chr(data[pos + 2])}", data[pos:end], data[pos + header : end]), end


def _gs_cut(data: bytes, pos: int) -> Parsed:
    """GS V m [n]"""
    if not _need(data, pos, 3):
        return None
    length = 4 if data[pos + 2] in (65, 66, 97, 98, 103, 104) else 3
    if not _need(data, pos, length):
        return None
    return Command("GS V", data[pos : pos + length], data[pos + 2 : pos + length]), pos + length


def _gs_fixed(length: int) -> Callable[[bytes, int], Parsed]:
    def parse_fixed(data: bytes, pos: int) -> Parsed:
        if not _need(data, pos, length):
            return None
        end = pos + length
        return Command(f"GS {chr(data[pos + 1])}", data[pos:end], data[pos + 2 : end]), end

    return parse_fixed


_GS: dict[int, Callable[[bytes, int], Parsed]] = {
    ord("v"): _gs_raster,
    ord("("): _gs_block,
    ord("8"): _gs_block,
    ord("V"): _gs_cut,
    **dict.fromkeys(_GS_ONE, _gs_fixed(3)),
    ord("L"): _gs_fixed(4),
    ord("W"): _gs_fixed(4),
}


def _gs(data: bytes, pos: int) -> Parsed:
    if not _need(data, pos, 2):
        return None
    op = data[pos + 1]
    parser = _GS.get(op)
    if parser is None:  # unknown: skip the pair
        return Command(f"GS {op:#04x}", data[pos : pos + 2]), pos + 2
    return parser(data, pos)


def _dle(data: bytes, pos: int) -> Parsed:
    if not _need(data, pos, 3):
        return None
    op = data[pos + 1]
    name = "DLE EOT" if op == EOT else f"DLE {op:#04x}"
    return Command(name, data[pos : pos + 3], data[pos + 2 : pos + 3]), pos + 3


def _fs(data: bytes, pos: int) -> Parsed:
    if not _need(data, pos, 2):
        return None
    op = data[pos + 1]
    length = 3 if op in (ord("C"), ord("!"), ord("-"), ord("S")) else 2
    if not _need(data, pos, length):
        return None
    return Command(f"FS {chr(op)}", data[pos : pos + length], data[pos + 2 : pos + length]), pos + length


def _text(data: bytes, pos: int) -> Parsed:
    """Printable text up to the next command."""
    end = pos
    while end < len(data) and data[end] not in _COMMANDS:
        end += 1
    return Command("text", data[pos:end], data[pos:end]), end


_COMMANDS: dict[int, Callable[[bytes, int], Parsed]] = {ESC: _esc, GS: _gs, DLE: _dle, FS: _fs}


def parse(data: bytes) -> tuple[list[Command], int]:
    commands: list[Command] = []
    pos = 0
    while pos < len(data):
        parsed = _COMMANDS.get(data[pos], _text)(data, pos)
        if parsed is None:
            break
        command, pos = parsed
        commands.append(command)
    return commands, pos


def raster_image(command: Command) -> Image.Image:
    """A GS v 0 command's bitmap as a 1-bit PIL image (printed dots are black)."""
    if command.name != "GS v 0":
        raise ValueError(f"not a raster image command: {command.name}")
    payload = command.payload  # m xL xH yL yH data
    width_bytes = payload[1] | payload[2] << 8
    height = payload[3] | payload[4] << 8
    bits = payload[5:]
    inverted = Image.frombytes("1", (width_bytes * 8, height), bits)  # 1 bits are dots
    return inverted.point(lambda v: 0 if v else 255, mode="1")


def raster_images_stacked(commands: list[Command]) -> Image.Image | None:
    """All GS v 0 fragments of a job stacked vertically (python-escpos splits tall images)."""
    images = [raster_image(c) for c in commands if c.name == "GS v 0"]
    if not images:
        return None
    width = max(i.width for i in images)
    stacked = Image.new("1", (width, sum(i.height for i in images)), 1)
    y = 0
    for image in images:
        stacked.paste(image, (0, y))
        y += image.height
    return stacked


def qr_payloads(commands: list[Command]) -> list[bytes]:
    """The data stored for native QR codes (GS ( k, cn=49 '1', fn=80 'P', m=48)."""
    found = []
    for c in commands:
        if c.name == "GS ( k" and c.payload[:3] == b"1P0":
            found.append(c.payload[3:])
    return found
