"""The three kinds of channel, in the JSON their receivers document; httpx errors mapped here.

- ``webhook``: POST ``{"version": 1, "title", "text" (markdown), "events": [...]}``; any 2xx
  is delivered.
- ``wecom`` (企业微信群机器人): POST ``{"msgtype": "markdown", "markdown": {"content"}}``
  (content at most 4096 bytes); with ``at_mobiles`` a ``text`` message with
  ``mentioned_mobile_list`` instead, since WeCom's markdown cannot mention anyone.
- ``dingtalk`` (钉钉自定义机器人): POST ``{"msgtype": "markdown", "markdown": {"title",
  "text"}, "at": {"atMobiles", "isAtAll": false}}``; with a signing secret (加签) the URL gets
  ``&timestamp=<ms>&sign=<urlencode(base64(HmacSHA256(secret, "<ms>\\n<secret>")))>``.

Both robots answer HTTP 200 with ``{"errcode": 0, "errmsg": "ok"}``; a non-zero errcode is a
refusal even with 200 (DingTalk 130101: more than 20 messages a minute). The URL holds the
robot's token and is never logged: errors name the channel id only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import urllib.parse
from typing import Any

import httpx

from collector.alarms.errors import NotifyError, NotifyRejected
from collector.alarms.notify.messages import Message
from config.alarm_settings import Channel

WECOM_MAX_BYTES = 4096
WECOM_TEXT_MAX_BYTES = 2048
DINGTALK_MAX_BYTES = 18_000


def dingtalk_sign(secret: str, ts_ms: int) -> str:
    """DingTalk's signature, already URL-encoded."""
    mac = hmac.new(secret.encode(), f"{ts_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return urllib.parse.quote_plus(base64.b64encode(mac).decode())


def fit(text: str, max_bytes: int) -> str:
    """Cut at a line boundary so the UTF-8 text fits, saying that it was cut."""
    if len(text.encode()) <= max_bytes:
        return text
    out: list[str] = []
    size = len("\n…".encode())
    for line in text.split("\n"):
        n = len(line.encode()) + 1
        if size + n > max_bytes:
            break
        out.append(line)
        size += n
    return "\n".join(out) + "\n…"


class ChannelSender:
    def __init__(self, spec: Channel, client: httpx.AsyncClient) -> None:
        self.spec = spec
        self.id = spec.id
        self.client = client
        url = spec.url.reveal().strip()
        if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
            raise NotifyError(f"channel {spec.id}: url is not an http(s) URL")
        self._url = url
        self._secret = spec.secret.reveal() if spec.secret is not None else None

    def request(self, msg: Message, now_ms: int | None = None) -> tuple[str, dict[str, Any]]:
        """The URL and JSON body for ``msg`` (no I/O: tests check the documented formats)."""
        s = self.spec
        if s.type == "webhook":
            return self._url, {"version": 1, "title": msg.title, "text": msg.markdown,
                               "events": msg.events}
        if s.type == "wecom":
            if s.at_mobiles:
                return self._url, {"msgtype": "text", "text": {
                    "content": fit(f"{msg.title}\n{msg.markdown}", WECOM_TEXT_MAX_BYTES),
                    "mentioned_mobile_list": list(s.at_mobiles)}}
            return self._url, {"msgtype": "markdown",
                               "markdown": {"content": fit(msg.markdown, WECOM_MAX_BYTES)}}
        text = msg.markdown + "".join(f" @{m}" for m in s.at_mobiles)  # shown only if in text
        url = self._url
        if self._secret is not None:
            ts = now_ms if now_ms is not None else int(time.time() * 1000)
            url += ("&" if "?" in url else "?") + \
                f"timestamp={ts}&sign={dingtalk_sign(self._secret, ts)}"
        return url, {"msgtype": "markdown",
                     "markdown": {"title": msg.title, "text": fit(text, DINGTALK_MAX_BYTES)},
                     "at": {"atMobiles": list(s.at_mobiles), "isAtAll": False}}

    async def send(self, msg: Message) -> None:
        url, body = self.request(msg)
        data = json.dumps(body, ensure_ascii=False).encode()
        try:
            r = await self.client.post(url, content=data,
                                       headers={"Content-Type": "application/json"})
        except httpx.HTTPError as e:
            raise NotifyError(f"channel {self.id}: {type(e).__name__}") from None
        if r.status_code >= 500 or r.status_code == 429:
            raise NotifyError(f"channel {self.id}: HTTP {r.status_code}")
        if not 200 <= r.status_code < 300:
            raise NotifyRejected(f"channel {self.id}: HTTP {r.status_code}")
        if self.spec.type == "webhook":
            return
        try:
            answer = r.json()
            code, why = int(answer.get("errcode", -1)), str(answer.get("errmsg", ""))
        except (ValueError, AttributeError, TypeError):
            raise NotifyRejected(f"channel {self.id}: the answer is not the robot's JSON") \
                from None
        if code != 0:
            raise NotifyRejected(f"channel {self.id}: errcode {code} {why}")
