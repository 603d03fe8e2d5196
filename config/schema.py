"""The configuration schema: every setting the server, kiosks and consoles read, typed and validated.

One TOML file describes a city: its departments and procedures, opening hours, kiosks and their devices,
the server's limits and the ICE servers calls may use. `config.loader.load_config` reads and validates it.
"""

from __future__ import annotations

import datetime as dt
import re
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from config.client_urls import check_server_urls

Identifier = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]


class Strict(BaseModel):
    """Base for every config section: unknown keys are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Audience(StrEnum):
    RESIDENTS = "residents"
    BUSINESSES = "businesses"


class CounterKind(StrEnum):
    ONE_TO_ONE = "one_to_one"
    ONE_STOP = "one_stop"  # おくやみ: one resident walked through several departments
    MOBILE = "mobile"  # 動くリモート窓口: a kit carried to businesses


class RoutingStrategy(StrEnum):
    LONGEST_IDLE = "longest_idle"
    FEWEST_CALLS = "fewest_calls"
    RING_ALL = "ring_all"


_SPAN = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")


def _span_parts(span: str) -> tuple[int, int, int, int]:
    """'08:30-17:15' as (8, 30, 17, 15)."""
    match = _SPAN.match(span)
    if not match:
        raise ValueError(f"{span!r} is not a span like '08:30-17:15'")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    return h1, m1, h2, m2


class OpeningHours(Strict):
    """A weekly schedule: for each weekday a list of "HH:MM-HH:MM" spans (empty: closed that day)."""

    mon: list[str] = ["08:30-17:15"]
    tue: list[str] = ["08:30-17:15"]
    wed: list[str] = ["08:30-17:15"]
    thu: list[str] = ["08:30-17:15"]
    fri: list[str] = ["08:30-17:15"]
    sat: list[str] = []
    sun: list[str] = []
    closed_on_public_holidays: bool = True
    closed_new_year: bool = True  # 年末年始: 12/29–1/3
    last_join_minutes_before_close: int = Field(default=15, ge=0, le=240)

    @field_validator("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    @classmethod
    def _spans(cls, spans: list[str]) -> list[str]:
        for span in spans:
            h1, m1, h2, m2 = _span_parts(span)
            if not (h1 < 24 and h2 <= 24 and m1 < 60 and m2 < 60):
                raise ValueError(f"{span!r} has an impossible time")
            if (h1, m1) >= (h2, m2):
                raise ValueError(f"{span!r} ends before it starts")
        return spans

    def spans_for(self, day: dt.date) -> list[tuple[dt.time, dt.time]]:
        spans = getattr(self, ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[day.weekday()])
        result = []
        for span in spans:
            h1, m1, h2, m2 = _span_parts(span)
            end = dt.time(23, 59, 59) if h2 == 24 else dt.time(h2, m2)
            result.append((dt.time(h1, m1), end))
        return result


# Names of departments and procedures in the kiosk's other languages (ja and en are required fields):
# the field per language, and what is shown where one is missing (``madoguchi-admin config check
# --translations`` lists the gaps). ja-easy carries readings as {漢字|かんじ}.
NAME_FIELDS = {
    "ja": "name_ja",
    "ja-easy": "name_ja_easy",
    "en": "name_en",
    "zh": "name_zh",
    "ko": "name_ko",
    "vi": "name_vi",
}
NAME_FALLBACK = {"ja": "ja", "ja-easy": "ja", "en": "en", "zh": "en", "ko": "en", "vi": "en"}


def localized_name(item: Department | Procedure, lang: str) -> str:
    """``item``'s name in ``lang``, else in its fallback language (Japanese for ja-easy, else English)."""
    own = getattr(item, NAME_FIELDS.get(lang, "name_en"))
    return own or getattr(item, NAME_FIELDS[NAME_FALLBACK.get(lang, "en")])


class Department(Strict):
    id: Identifier
    name_ja: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    name_ja_easy: str = ""
    name_zh: str = ""
    name_ko: str = ""
    name_vi: str = ""
    audience: Audience
    kind: CounterKind = CounterKind.ONE_TO_ONE
    remote: bool = True  # False: listed for reference only, never offered at a kiosk
    strategy: RoutingStrategy = RoutingStrategy.LONGEST_IDLE
    ring_timeout_s: float = Field(default=20, gt=0, le=300)
    wrap_up_s: float = Field(default=15, ge=0, le=3600)
    overflow_after_s: float | None = Field(default=180, gt=0)
    max_queue: int = Field(default=30, ge=1, le=10_000)
    service_level_s: float = Field(default=120, gt=0)
    hours: OpeningHours = OpeningHours()
    one_stop_departments: list[Identifier] = []  # for kind one_stop: the departments a case may visit


class ProcedureSource(StrEnum):
    MYNAPORTAL_27 = "mynaportal_27"  # 国が示す優先的にオンライン化を推進すべき27手続
    R4_ONLINE = "r4_online"  # 令和4年度にオンライン化を予定している手続き
    R3_FREQUENT = "r3_frequent"  # 令和3年度件数の多かった申請手続き
    PILOT_COUNTER = "pilot_counter"  # リモート窓口実証実験の窓口


class Procedure(Strict):
    id: Identifier
    name_ja: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    name_ja_easy: str = ""
    name_zh: str = ""
    name_ko: str = ""
    name_vi: str = ""
    category: str = Field(min_length=1)  # e.g. 子育て, 介護, 年金, 国保, 住民票, おくやみ, 上下水道, 建築
    department: Identifier
    audience: Audience
    source: ProcedureSource
    convenience_store: bool = False  # コンビニ交付可: the kiosk can say so


class IceServer(Strict):
    urls: list[str] = Field(min_length=1)
    username: str | None = None
    credential: str | None = None

    @field_validator("urls")
    @classmethod
    def _schemes(cls, urls: list[str]) -> list[str]:
        for url in urls:
            if not url.startswith(("stun:", "turn:", "turns:")):
                raise ValueError(f"{url!r} is not a stun:, turn: or turns: URL")
        return urls


class TurnConfig(Strict):
    """coturn with `use-auth-secret`: the server hands out time-limited credentials per call."""

    urls: list[str] = Field(min_length=1)
    secret: str = Field(min_length=16)
    ttl_s: int = Field(default=3600, ge=60, le=86_400)


class ClusterConfig(Strict):
    """Several nodes sharing one switchboard through Redis (docs/deployment-cluster.md, "Several nodes").
    Absent: one node, as always."""

    redis_url: str = Field(pattern=r"^(redis|rediss|unix)://")
    node_id: Identifier
    # The leader's lease: renewed every ttl/3; a follower takes over within about lease_ttl_s of a kill -9.
    lease_ttl_s: float = Field(default=3.0, ge=0.5, le=60)
    key_prefix: Identifier = "madoguchi"


class ServerConfig(Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=8765, ge=0, le=65_535)
    database: str = "var/madoguchi.sqlite3"
    allowed_origins: list[str] = []
    # What kiosks and consoles connect to: one URL, or every node's (tried in rotation; they may also
    # share one load balancer's URL). Empty: the clients' --server (docs/deployment-cluster.md).
    urls: list[str] = []
    # SIGTERM drains the node: /healthz answers 503 "draining" for drain_notice_s (the load balancer takes
    # it out), then its clients are told to reconnect elsewhere; it exits when they are gone or after
    # drain_timeout_s.
    drain_notice_s: float = Field(default=0, ge=0, le=60)
    drain_timeout_s: float = Field(default=10, gt=0, le=600)
    max_message_bytes: int = Field(default=64 * 1024, ge=1024, le=1024 * 1024)
    ws_heartbeat_s: float = Field(default=10, gt=0)
    messages_per_second: float = Field(default=50, gt=0)
    message_burst: int = Field(default=200, ge=1)
    session_ttl_s: int = Field(default=12 * 3600, ge=60)
    rejoin_grace_s: float = Field(default=120, ge=0)
    max_unanswered_offers: int = Field(default=2, ge=1)
    position_push_s: float = Field(default=15, gt=0)
    setup_timeout_s: float = Field(default=30, gt=0)  # media must come up within this after an accept
    reconnect_grace_s: float = Field(default=20, ge=0)  # a dropped kiosk/officer may come back within this
    # The handle time the wait estimate assumes until calls have been observed (then a rolling mean).
    expected_handle_s: float = Field(default=300, gt=0, le=7200)
    tls_cert: str | None = None
    tls_key: str | None = None
    # "lgwan": the city-network instance (kiosks, consoles, IT dashboard, case API). "internet": the
    # separate instance businesses reach from their own offices: TLS and TURN over TLS required, only the
    # business endpoints and the consoles' signaling (docs/deployment-internet.md).
    profile: Literal["lgwan", "internet"] = "lgwan"
    cluster: ClusterConfig | None = None  # several nodes on Redis; None: a single node

    @field_validator("urls")
    @classmethod
    def _client_urls(cls, urls: list[str]) -> list[str]:
        return check_server_urls(urls)

    @field_validator("database")
    @classmethod
    def _database(cls, value: str) -> str:
        """A SQLite file path (the default) or a postgresql:// URL (docs/deployment-cluster.md)."""
        scheme, sep, rest = value.partition("://")
        if not value.strip():
            raise ValueError("server.database is empty: give a SQLite file path or a postgresql:// URL")
        if sep and (scheme not in ("postgresql", "postgres") or not rest.strip("/")):
            shown = f"{scheme}://…"  # never echo the rest: it may hold a password
            raise ValueError(
                f"server.database {shown!r} is neither a SQLite file path nor a postgresql:// URL "
                "(e.g. postgresql://madoguchi@db.example.lg.jp/madoguchi)"
            )
        return value


class DeviceDriver(StrEnum):
    REAL = "real"
    SIMULATED = "simulated"
    NONE = "none"


class CameraConfig(Strict):
    driver: DeviceDriver = DeviceDriver.SIMULATED
    source: str | int = 0  # device index, device path or a video file (looped)
    width: int = Field(default=640, ge=160, le=3840)
    height: int = Field(default=480, ge=120, le=2160)
    fps: int = Field(default=15, ge=1, le=60)


class AudioConfig(Strict):
    driver: DeviceDriver = DeviceDriver.SIMULATED
    input_device: str | None = None  # sounddevice name; None: system default
    output_device: str | None = None
    echo_cancellation: bool = True
    tone_hz: float = Field(default=440.0, ge=0, le=20_000)  # simulated microphone; 0 is silence


class ScannerConfig(Strict):
    driver: DeviceDriver = DeviceDriver.SIMULATED
    backend: Literal["sane", "document_camera"] = "sane"
    device: str | int = "test"  # SANE device name, or camera index/path for a document camera
    resolution_dpi: int = Field(default=200, ge=75, le=600)


class PrinterConfig(Strict):
    driver: DeviceDriver = DeviceDriver.SIMULATED
    connection: Literal["network", "usb", "serial", "file"] = "network"
    address: str = "127.0.0.1:9100"  # host:port, usb vendor:product, serial port or file path
    profile: str = "TM-T88V"
    width_px: int = Field(default=512, ge=256, le=832)
    status_timeout_s: float = Field(default=1.0, gt=0, le=30)


class DevicesConfig(Strict):
    camera: CameraConfig = CameraConfig()
    audio: AudioConfig = AudioConfig()
    scanner: ScannerConfig = ScannerConfig()
    printer: PrinterConfig = PrinterConfig()


class Kiosk(Strict):
    id: Identifier
    name: str = Field(min_length=1)  # shown to officers and IT: 上田公民館
    location: str = ""
    audience: Audience = Audience.RESIDENTS
    screen_diagonal_inch: float = Field(default=21.5, gt=5, le=100)
    screen_width_px: int = Field(default=1920, ge=320)
    screen_height_px: int = Field(default=1080, ge=240)
    devices: DevicesConfig = DevicesConfig()


class CityConfig(Strict):
    name_ja: str = "盛岡市"
    name_en: str = "Morioka City"
    phone: str = "019-651-4111"
    timezone: str = "Asia/Tokyo"


class KioskAppConfig(Strict):
    idle_reset_s: float = Field(default=60, ge=10)
    idle_warning_s: float = Field(default=15, ge=3)
    exit_pin: str | None = Field(default=None, pattern=r"^\d{4,12}$")  # set at provisioning; never shipped
    heartbeat_s: float = Field(default=10, gt=0)


class MonitoringConfig(Strict):
    """IT monitoring: heartbeats, alert thresholds, webhook, history (see docs/monitoring.md)."""

    heartbeat_s: float | None = Field(default=None, gt=0)  # None: kiosk_app.heartbeat_s
    offline_after_missed: int = Field(default=3, ge=1, le=100)
    loss_pct: float = Field(default=5.0, ge=0, le=100)
    rtt_ms: float = Field(default=300.0, gt=0)
    sustained_s: float = Field(default=15.0, ge=0)
    webhook_url: str = ""
    webhook_retries: int = Field(default=5, ge=0, le=50)
    webhook_backoff_s: float = Field(default=1.0, gt=0)
    webhook_max_backoff_s: float = Field(default=60.0, gt=0)
    history_step_s: int = Field(default=600, ge=10)
    retention_days: int = Field(default=30, ge=1, le=3650)
    dashboard_flush_s: float = Field(default=0.25, gt=0, le=10)
    metrics_token: str = ""
    board_refresh_s: int = Field(default=15, ge=2, le=3600)
    check_interval_s: float | None = Field(default=None, gt=0)  # offline checks; None: heartbeat_s / 2

    @field_validator("webhook_url")
    @classmethod
    def _webhook(cls, url: str) -> str:
        if url and not url.startswith(("http://", "https://")):
            raise ValueError(f"{url!r} is not an http(s) URL")
        return url


class DocumentsConfig(Strict):
    """Documents officers save to a case: AES-256-GCM at rest. ``keys`` maps key ids to base64 256-bit
    keys (``madoguchi-admin documents new-key``); ``current_key`` encrypts new documents, the others only
    decrypt (rotation: add a key, make it current, ``madoguchi-admin documents rekey``, remove the old)."""

    keys: dict[Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")], str] = {}
    current_key: str | None = None
    retention_days: float = Field(default=30, gt=0, le=3650)

    @model_validator(mode="after")
    def _current(self) -> DocumentsConfig:
        if self.current_key is not None and self.current_key not in self.keys:
            raise ValueError(f"current_key {self.current_key!r} is not one of keys ({', '.join(self.keys)})")
        if self.keys and self.current_key is None:
            raise ValueError("keys are set but current_key is not")
        return self


class BusinessConfig(Strict):
    """The business counter (業者向けリモート窓口, docs/business.md): invitation links for a browser."""

    enabled: bool = True
    # The origin put in invitation links, e.g. "https://madoguchi.city.morioka.iwate.jp" (the internet-side
    # instance); empty: the origin of the officer's own request.
    public_url: str = ""
    max_window_h: float = Field(default=72, gt=0, le=24 * 31)  # the longest valid_from..valid_until
    link_ttl_h: float = Field(default=24, gt=0)  # the window when the officer gives no valid_until
    second_factor: bool = False  # new invitations ask for an e-mailed 6-digit code unless told otherwise
    code_ttl_s: int = Field(default=600, ge=60, le=3600)
    code_tries: int = Field(default=5, ge=1, le=10)

    @field_validator("public_url")
    @classmethod
    def _origin(cls, url: str) -> str:
        if not url:
            return url
        if not re.match(r"^https?://[A-Za-z0-9.\[\]:-]+$", url):
            raise ValueError(f"{url!r} is not an origin like 'https://madoguchi.example.jp' (no path)")
        return url

    @model_validator(mode="after")
    def _windows(self) -> BusinessConfig:
        if self.link_ttl_h > self.max_window_h:
            raise ValueError(f"link_ttl_h ({self.link_ttl_h}) exceeds max_window_h ({self.max_window_h})")
        return self


class SmtpConfig(Strict):
    """The mail server invitation links and second-factor codes go through (stdlib smtplib)."""

    host: str = ""  # empty: no mail; the console shows the link to pass on by hand
    port: int = Field(default=587, ge=1, le=65_535)
    starttls: bool = True
    username: str = ""
    password: str = ""
    password_file: str = ""  # read at start-up; keeps the password out of the configuration file
    from_address: str = "madoguchi@localhost"
    timeout_s: float = Field(default=10, gt=0, le=120)

    @field_validator("from_address")
    @classmethod
    def _address(cls, address: str) -> str:
        if not re.match(r"^[^@\s<>]+@[^@\s<>]+$", address):
            raise ValueError(f"{address!r} is not an e-mail address like 'madoguchi@city.example.jp'")
        return address

    @model_validator(mode="after")
    def _credentials(self) -> SmtpConfig:
        if self.password and self.password_file:
            raise ValueError("set password or password_file, not both")
        if (self.password or self.password_file) and not self.username:
            raise ValueError("a password needs a username")
        return self


class DepartmentAppointments(Strict):
    """A department's bookable time (予約, see docs/appointments.md): slots of ``slot_minutes`` inside
    ``hours`` on the days the department is open (its opening hours, holidays and 年末年始)."""

    department: Identifier
    hours: list[str] = ["09:00-12:00", "13:00-16:00"]  # bookable spans, within the opening hours
    slot_minutes: int = Field(default=30, ge=5, le=240)
    bookable_officers: int = Field(default=1, ge=0, le=100)  # per slot; the other officers stay for walk-ins
    lead_minutes: int = Field(default=60, ge=0, le=7 * 24 * 60)  # no booking closer to the slot than this
    horizon_days: int = Field(default=30, ge=1, le=366)  # no booking further ahead than this
    grace_minutes: int = Field(default=10, ge=1, le=120)  # late arrivals keep the booking; then a no-show
    early_minutes: int = Field(default=60, ge=0, le=240)  # how early a resident may check in
    officer_first_s: float = Field(default=60, ge=0, le=1800)  # the booked officer alone is rung this long
    walk_in_officers: int = Field(default=0, ge=0, le=100)  # roster: officers on shift kept for walk-ins

    @field_validator("hours")
    @classmethod
    def _hours(cls, spans: list[str]) -> list[str]:
        for span in spans:
            h1, m1, h2, m2 = _span_parts(span)
            if not (h1 < 24 and h2 <= 24 and m1 < 60 and m2 < 60) or (h1, m1) >= (h2, m2):
                raise ValueError(f"{span!r} is not a span of one day")
        return spans

    @model_validator(mode="after")
    def _turn_within_grace(self) -> DepartmentAppointments:
        if self.officer_first_s >= self.grace_minutes * 60:
            raise ValueError("officer_first_s must be shorter than the grace period (grace_minutes)")
        return self


class OfficerShift(Strict):
    """One officer's weekly working hours (勤務表) for bookings: on ``days`` within ``hours``, serving
    ``departments``. A department named by any shift has its slots' capacity follow the roster."""

    officer: Annotated[str, Field(min_length=1, max_length=64)]  # the staff account's username
    departments: list[Identifier] = Field(min_length=1)
    days: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = ["mon", "tue", "wed", "thu", "fri"]
    hours: list[str] = ["08:30-17:15"]

    @field_validator("hours")
    @classmethod
    def _hours(cls, spans: list[str]) -> list[str]:
        return DepartmentAppointments._hours(spans)


class AppointmentsConfig(Strict):
    """Appointments (予約): which departments take bookings, and the public booking page's limits."""

    departments: list[DepartmentAppointments] = []
    shifts: list[OfficerShift] = []  # the roster; empty: capacity is bookable_officers (or a supervisor's)
    bookings_per_address_per_day: int = Field(default=5, ge=1, le=1000)  # the public page, per address
    pin_failures: int = Field(default=5, ge=1, le=100)  # wrong PINs from one address before a lockout
    reminder_time: str = Field(default="10:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")  # the day before


class AppConfig(Strict):
    city: CityConfig = CityConfig()
    server: ServerConfig = ServerConfig()
    ice_servers: list[IceServer] = []  # default: none (closed city LAN); never a public STUN server
    turn: TurnConfig | None = None
    # "relay": media only through TURN (e.g. kiosks on a network that must not reach consoles directly)
    ice_transport_policy: Literal["all", "relay"] = "all"
    kiosk_app: KioskAppConfig = KioskAppConfig()
    monitoring: MonitoringConfig = MonitoringConfig()
    documents: DocumentsConfig = DocumentsConfig()
    business: BusinessConfig = BusinessConfig()
    smtp: SmtpConfig = SmtpConfig()
    appointments: AppointmentsConfig = AppointmentsConfig()
    departments: list[Department] = Field(min_length=1)
    procedures: list[Procedure] = []
    kiosks: list[Kiosk] = []

    @model_validator(mode="after")
    def _internet_profile(self) -> AppConfig:
        """The internet-side instance faces browsers on office networks: nothing in clear, and a relay
        they can reach through a firewall that passes only HTTPS."""
        if self.server.profile != "internet":
            return self
        if not (self.server.tls_cert and self.server.tls_key):
            raise ValueError("server.profile 'internet' requires TLS: set server.tls_cert and server.tls_key")
        if self.turn is None or not any(url.startswith("turns:") for url in self.turn.urls):
            raise ValueError(
                "server.profile 'internet' requires [turn] with a turns: URL (TURN over TLS, e.g. "
                "turns:turn.example.jp:443?transport=tcp) for offices whose firewall blocks UDP"
            )
        if self.kiosks:
            raise ValueError("server.profile 'internet' serves businesses only: remove the [[kiosks]]")
        return self

    @model_validator(mode="after")
    def _references(self) -> AppConfig:
        seen: set[str] = set()
        for dep in self.departments:
            if dep.id in seen:
                raise ValueError(f"department id {dep.id!r} is defined twice")
            seen.add(dep.id)
        for dep in self.departments:
            for other in dep.one_stop_departments:
                if other not in seen:
                    raise ValueError(f"department {dep.id!r}: one_stop_departments names unknown {other!r}")
        proc_ids: set[str] = set()
        for proc in self.procedures:
            if proc.department not in seen:
                raise ValueError(f"procedure {proc.id!r} names unknown department {proc.department!r}")
            if proc.id in proc_ids:
                raise ValueError(f"procedure id {proc.id!r} is defined twice")
            proc_ids.add(proc.id)
        kiosk_ids = [k.id for k in self.kiosks]
        if len(kiosk_ids) != len(set(kiosk_ids)):
            raise ValueError("kiosk ids must be unique")
        return self

    @model_validator(mode="after")
    def _appointment_departments(self) -> AppConfig:
        remote = {d.id for d in self.departments if d.remote}
        booked = [a.department for a in self.appointments.departments]
        for dep_id in booked:
            if dep_id not in remote:
                raise ValueError(f"appointments name {dep_id!r}, which is not a remote department")
        if len(booked) != len(set(booked)):
            raise ValueError("a department is listed twice under appointments")
        return self

    def department(self, department_id: str) -> Department:
        for dep in self.departments:
            if dep.id == department_id:
                return dep
        raise KeyError(department_id)

    def kiosk(self, kiosk_id: str) -> Kiosk:
        for kiosk in self.kiosks:
            if kiosk.id == kiosk_id:
                return kiosk
        raise KeyError(kiosk_id)
