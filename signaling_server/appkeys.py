"""The typed keys under which the application stores its shared objects (aiohttp ``AppKey``s)."""

from __future__ import annotations

from aiohttp import web

from config.schema import AppConfig
from signaling_server.auth import Authenticator
from signaling_server.store import Store
from signaling_server.switchboard import Switchboard

SWITCHBOARD = web.AppKey("switchboard", Switchboard)
AUTHENTICATOR = web.AppKey("authenticator", Authenticator)
STORE = web.AppKey("store", Store)
CONFIG = web.AppKey("config", AppConfig)
