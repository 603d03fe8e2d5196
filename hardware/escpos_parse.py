"""A small ESC/POS command parser: enough to read back what our printer driver sends and to let the fake
printer answer real-time status requests (DLE EOT n) at command boundaries, never inside image data.

`parse(data)` returns the commands and the number of bytes consumed (a trailing incomplete command is left
for the next call, as a printer's receive buffer would).
"""

from __future__ import annotations

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


def parse(data: bytes) -> tuple[list[Command], int]:
    commands: list[Command] = []
    pos = 0
    size = len(data)
    while pos < size:
        byte = data[pos]
        start = pos
        if byte == ESC:
            if not _need(data, pos, 2):
                break
            op = data[pos + 1]
            if op in (ord("@"), ord("2"), ord("<")):
                pos += 2
            elif op in _ESC_ONE:
                if not _need(data, pos, 3):
                    break
                pos += 3
            else:
                pos += 2  # unknown: skip the pair
            commands.append(Command(f"ESC {chr(op)}", data[start:pos], data[start + 2 : pos]))
        elif byte == GS:
            if not _need(data, pos, 2):
                break
            op = data[pos + 1]
            if op == ord("v"):  # GS v 0 m xL xH yL yH d1...dk
                if not _need(data, pos, 8):
                    break
                width_bytes = data[pos + 4] | data[pos + 5] << 8
                height = data[pos + 6] | data[pos + 7] << 8
                end = pos + 8 + width_bytes * height
                if end > size:
                    break
                commands.append(Command("GS v 0", data[start:end], data[pos + 3 : end]))
                pos = end
            elif op in (ord("("), ord("8")):  # GS ( k / GS ( L / GS 8 L ... pL pH [data]
                if op == ord("8"):
                    if not _need(data, pos, 7):
                        break
                    length = int.from_bytes(data[pos + 3 : pos + 7], "little")
                    end = pos + 7 + length
                else:
                    if not _need(data, pos, 5):
                        break
                    length = data[pos + 3] | data[pos + 4] << 8
                    end = pos + 5 + length
                if end > size:
                    break
                name = f"GS {chr(op)} {chr(data[pos + 2])}"
                header = 7 if op == ord("8") else 5
                commands.append(Command(name, data[start:end], data[start + header : end]))
                pos = end
            elif op == ord("V"):  # GS V m [n]
                if not _need(data, pos, 3):
                    break
                m = data[pos + 2]
                length = 4 if m in (65, 66, 97, 98, 103, 104) else 3
                if not _need(data, pos, length):
                    break
                pos += length
                commands.append(Command("GS V", data[start:pos], data[start + 2 : pos]))
            elif op in _GS_ONE:
                if not _need(data, pos, 3):
                    break
                pos += 3
                commands.append(Command(f"GS {chr(op)}", data[start:pos], data[start + 2 : pos]))
            elif op in (ord("L"), ord("W")):
                if not _need(data, pos, 4):
                    break
                pos += 4
                commands.append(Command(f"GS {chr(op)}", data[start:pos], data[start + 2 : pos]))
            else:
                pos += 2
                commands.append(Command(f"GS {op:#04x}", data[start:pos]))
        elif byte == DLE:
            if not _need(data, pos, 3):
                break
            op = data[pos + 1]
            pos += 3
            name = "DLE EOT" if op == EOT else f"DLE {op:#04x}"
            commands.append(Command(name, data[start:pos], data[start + 2 : pos]))
        elif byte == FS:
            if not _need(data, pos, 2):
                break
            op = data[pos + 1]
            length = 3 if op in (ord("C"), ord("!"), ord("-"), ord("S")) else 2
            if not _need(data, pos, length):
                break
            pos += length
            commands.append(Command(f"FS {chr(op)}", data[start:pos], data[start + 2 : pos]))
        else:
            end = pos
            while end < size and data[end] not in (ESC, GS, DLE, FS):
                end += 1
            commands.append(Command("text", data[start:end], data[start:end]))
            pos = end
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
