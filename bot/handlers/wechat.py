"""WeChat channel factory for `tousu serve`: Official Account and/or WeCom.

`build(app)` returns None when neither is configured. Otherwise one `ChannelRuntime`:

- Official Account (`TOUSU_WECHAT_APP_ID` + `_TOKEN`, `_AES_KEY` for compatible/safe
  mode): route `/wechat/mp`; with `_APP_SECRET` also the "wechat" sender (custom and
  template messages) and the late-answer path.
- WeCom app (`TOUSU_WECOM_CORP_ID` + `_TOKEN` + `_AES_KEY`): route `/wechat/wecom`; with
  `_SECRET` + `_AGENT_ID` the "wecom" sender.
- `TOUSU_WECOM_ROBOT_KEY`: the "wecom_robot" sender (manager-group alerts and digests).

Tokens are shared through the database (or Redis with `TOUSU_REDIS_URL`); the last time
each user wrote to us (WeChat's 48-hour window) is kept in the database as well.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from bot.channels import ChannelRuntime
from bot.handlers.wechat_crypto import CallbackCrypto
from bot.handlers.wechat_mp import MpCallback
from bot.handlers.wechat_sender import SqlLastSeenStore, WeChatSender, template_specs
from bot.handlers.wechat_tokens import MpClient, WorkClient, token_storage
from bot.handlers.wecom import WeComCallback, WeComRobotSender, WeComSender, wecom_userids
from bot.messaging import Sender
from core.clock import Clock, SystemClock

log = logging.getLogger(__name__)


def _secret(value: Any) -> str | None:
    if value is None:
        return None
    getter = getattr(value, "get_secret_value", None)
    text = getter() if callable(getter) else str(value)
    return text or None


def sql_engine_of(app: Any) -> sa.Engine:
    """The app's SQLAlchemy engine if it exposes one, else a new one on the database URL."""
    for name in ("db", "sql_engine", "db_engine"):
        engine = getattr(app, name, None)
        if isinstance(engine, sa.Engine):
            return engine
    return sa.create_engine(app.settings.database_url)


def build(app: Any) -> ChannelRuntime | None:
    settings = app.settings
    mp_ready = bool(settings.wechat_app_id and _secret(settings.wechat_token))
    wecom_ready = bool(
        settings.wecom_corp_id and _secret(settings.wecom_token) and _secret(settings.wecom_aes_key)
    )
    robot_key = _secret(settings.wecom_robot_key)
    wecom_send_ready = bool(
        settings.wecom_corp_id and _secret(settings.wecom_secret) and settings.wecom_agent_id
    )
    if not (mp_ready or wecom_ready or robot_key or wecom_send_ready):
        return None

    pack_raw: Mapping[str, Any] = getattr(app, "pack_raw", None) or {}
    clock: Clock = getattr(app, "clock", None) or SystemClock()
    locale = str(pack_raw.get("locale") or settings.locale or "zh-CN")
    texts = pack_raw.get("texts") or None
    engine_sql = sql_engine_of(app)
    tokens = None

    routes: list[Any] = []
    senders: list[Sender] = []
    stops: list[Any] = []

    if mp_ready or (settings.wechat_app_id and _secret(settings.wechat_app_secret)):
        last_seen = SqlLastSeenStore(engine_sql)
        sender: WeChatSender | None = None
        app_secret = _secret(settings.wechat_app_secret)
        if settings.wechat_app_id and app_secret:
            tokens = tokens or token_storage(settings, engine_sql)
            client = MpClient(
                settings.wechat_app_id,
                app_secret,
                api_base=settings.wechat_api_base,
                session=tokens,
            )
            sender = WeChatSender(
                client,
                last_seen,
                clock=clock,
                templates=template_specs(pack_raw),
                locale=locale,
                timezone_name=str(pack_raw.get("timezone") or "Asia/Shanghai"),
                public_url=settings.public_url,
                texts=texts,
                remember_choices=getattr(app.engine, "remember_choices", None),
            )
            senders.append(sender)
        if mp_ready:
            crypto = CallbackCrypto(
                _secret(settings.wechat_token) or "",
                _secret(settings.wechat_aes_key),
                settings.wechat_app_id or "",
            )
            wechat_section = pack_raw.get("wechat") or {}
            mp = MpCallback(
                crypto,
                app.engine,
                sender=sender,
                last_seen=last_seen,
                clock=clock,
                voice_recognition=settings.wechat_voice_recognition,
                menu=wechat_section.get("menu") or None,
                locale=locale,
                texts=texts,
            )
            routes.extend(mp.routes())
            stops.append(mp.stop)

    wecom_sender: WeComSender | None = None
    if wecom_send_ready:
        tokens = tokens or token_storage(settings, engine_sql)
        work = WorkClient(
            settings.wecom_corp_id or "",
            _secret(settings.wecom_secret) or "",
            api_base=settings.wecom_api_base,
            session=tokens,
        )
        wecom_section = pack_raw.get("wecom") or {}
        wecom_sender = WeComSender(
            work,
            int(settings.wecom_agent_id or 0),
            userids=wecom_userids(pack_raw),
            case_url=wecom_section.get("case_url"),
            locale=locale,
        )
        senders.append(wecom_sender)
    if wecom_ready:
        wecom_crypto = CallbackCrypto(
            _secret(settings.wecom_token) or "",
            _secret(settings.wecom_aes_key),
            settings.wecom_corp_id or "",
            enterprise=True,
        )
        callback = WeComCallback(wecom_crypto, app.engine, sender=wecom_sender)
        routes.extend(callback.routes())
        stops.append(callback.stop)
    if robot_key:
        robot = WeComRobotSender(robot_key, api_base=settings.wecom_api_base, locale=locale)
        senders.append(robot)
        stops.append(robot.aclose)

    async def stop() -> None:
        for step in stops:
            try:
                await step()
            except Exception:
                log.exception("wechat channel: error while stopping")

    log.info(
        "wechat channel: routes %s, senders %s",
        sorted({r.path for r in routes}),
        [s.channel for s in senders],
    )
    return ChannelRuntime(name="wechat", routes=routes, senders=senders, stop=stop)
