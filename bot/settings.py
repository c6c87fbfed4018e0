"""Typed settings from the environment and `.env` (prefix TOUSU_). `.env.example` lists them all."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="TOUSU_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # Core
    database_url: str = "sqlite:///tousu.db"
    pack: str | None = None  # pack name under packs/ or a path; default: the one `tousu init` chose
    classifier: Literal["nlp", "keywords"] = "nlp"  # jieba classifier, or plain keyword counting
    now: datetime | None = None  # fixes the clock (ISO-8601 with an offset)
    locale: str = "zh-CN"  # default language for users whose language is unknown
    log_level: str = "INFO"
    redis_url: str | None = None  # optional: shared token cache and rate limits
    cache_dir: str | None = None  # jieba's dictionary cache (default ~/.cache/tousu)

    # Server (`tousu serve`)
    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str | None = None  # https://example.org, used for webhooks and links
    dispatch_interval_seconds: float = 1.0
    sweep_interval_seconds: float = 60.0

    # Telegram
    telegram_token: SecretStr | None = None
    telegram_driver: Literal["ptb", "aiogram"] = "ptb"
    telegram_mode: Literal["polling", "webhook"] = "polling"
    telegram_api_base: str = "https://api.telegram.org"
    telegram_webhook_secret: SecretStr | None = None
    telegram_bot_username: str | None = None  # for deep links; asked from getMe when unset

    # WeChat Official Account
    wechat_app_id: str | None = None
    wechat_app_secret: SecretStr | None = None
    wechat_token: SecretStr | None = None
    wechat_aes_key: SecretStr | None = None
    wechat_api_base: str = "https://api.weixin.qq.com"
    wechat_voice_recognition: bool = False

    # WeCom (企业微信)
    wecom_corp_id: str | None = None
    wecom_agent_id: int | None = None
    wecom_secret: SecretStr | None = None
    wecom_token: SecretStr | None = None
    wecom_aes_key: SecretStr | None = None
    wecom_api_base: str = "https://qyapi.weixin.qq.com"
    wecom_robot_key: SecretStr | None = None  # group-robot webhook key for the manager group

    @field_validator("now")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("TOUSU_NOW needs an offset, e.g. 2026-11-23T09:00:00+08:00")
        return value
