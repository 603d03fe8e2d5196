"""A private PulseAudio server with a null sink: a paced virtual speaker and microphone for tests and demos.

`pulseaudio -D` returns only once the daemon is ready, so no polling is needed. The sink's monitor is the
default source: what is played into the sink comes back on the "microphone" (a real echo path). Clients in
this process reach it through sounddevice's ALSA device "pulse" once PULSE_SERVER points at its socket.
Runs as root too (PulseAudio only warns about that in per-user mode).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

IDLE_EXIT_S = 5


class VirtualAudioError(RuntimeError):
    pass


def _die_with_parent() -> None:
    """In the child before exec: get SIGTERM when the parent dies (Linux prctl PR_SET_PDEATHSIG)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM, 0, 0, 0)


class PulseNullSink:
    """Start with `start()`, stop with `stop()`; `env` holds the client variables while it runs."""

    def __init__(self, sink_name: str = "virt") -> None:
        self.sink_name = sink_name
        self.dir: Path | None = None
        self.pid: int | None = None
        self._saved_env: dict[str, str | None] = {}
        self._keeper: subprocess.Popen[bytes] | None = None

    @property
    def socket(self) -> Path:
        if self.dir is None:
            raise VirtualAudioError("the virtual PulseAudio server is not running")
        return self.dir / "native"

    @property
    def env(self) -> dict[str, str]:
        return {"PULSE_SERVER": f"unix:{self.socket}", "PULSE_COOKIE": str(self.socket.parent / "cookie")}

    def start(self, timeout: float = 20.0) -> PulseNullSink:
        exe = shutil.which("pulseaudio")
        if exe is None:
            raise VirtualAudioError("pulseaudio is not installed (Debian: pulseaudio, libasound2-plugins)")
        self.dir = Path(tempfile.mkdtemp(prefix="madoguchi-pulse-"))
        env = dict(
            os.environ,
            HOME=str(self.dir),
            XDG_RUNTIME_DIR=str(self.dir),
            PULSE_RUNTIME_PATH=str(self.dir),
            PULSE_STATE_PATH=str(self.dir / "state"),
        )
        # The server exits a few seconds after its last client leaves; `_keeper` stays connected while we
        # run and dies with us (PR_SET_PDEATHSIG), so a killed test run cannot leave a server behind.
        pactl = shutil.which("pactl")
        idle = IDLE_EXIT_S if pactl is not None else -1
        cmd = [
            exe,
            "-D",
            "-n",
            f"--exit-idle-time={idle}",
            "--use-pid-file=yes",
            "--log-target=stderr",
            f"--load=module-null-sink sink_name={self.sink_name} rate=48000",
            f"--load=module-native-protocol-unix auth-anonymous=1 socket={self.socket}",
        ]
        try:
            done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            raise VirtualAudioError(f"pulseaudio did not start within {timeout} s") from exc
        pid_file = self.dir / "pid"
        if done.returncode != 0 or not pid_file.exists():
            tail = (done.stderr or "").strip().splitlines()[-3:]
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None
            raise VirtualAudioError(
                f"pulseaudio failed to start (exit {done.returncode}): {' | '.join(tail)}"
            )
        self.pid = int(pid_file.read_text().split()[0])
        if pactl is not None:
            self._keeper = subprocess.Popen(
                [pactl, "subscribe"],
                env=dict(os.environ, **self.env),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                preexec_fn=_die_with_parent,
            )
        for key, value in self.env.items():
            self._saved_env[key] = os.environ.get(key)
            os.environ[key] = value
        return self

    def stop(self) -> None:
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_env.clear()
        if self._keeper is not None:
            self._keeper.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._keeper.wait(timeout=5)
            self._keeper = None
        if self.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)
            self.pid = None
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def __enter__(self) -> PulseNullSink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
