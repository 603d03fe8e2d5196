"""Configuration: the schema (`config.schema`), the loader (`config.loader`) and shipped defaults."""

from config.loader import ConfigError, default_config_path, load_config
from config.schema import AppConfig

__all__ = ["AppConfig", "ConfigError", "default_config_path", "load_config"]
