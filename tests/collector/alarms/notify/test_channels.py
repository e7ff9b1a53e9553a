"""The JSON each channel sends, as its receiver documents it; DingTalk's signature."""

from __future__ import annotations

import base64
import hashlib
import hmac
import urllib.parse

import httpx
import pytest

from collector.alarms.errors import NotifyError
from collector.alarms.notify.channels import ChannelSender, fit
from collector.alarms.notify.messages import Message
from config.alarm_settings import Channel

MSG = Message("[重要] 通信中断 产生: inv-01", "### [重要] 通信中断\n\n- **设备**: inv-01",
              [{"id": 1}])
CLIENT = httpx.AsyncClient()


def _sender(**spec: object) -> ChannelSender:
    return ChannelSender(Channel.model_validate({"id": "c", **spec}), CLIENT)


def test_wecom_markdown() -> None:
    url, body = _sender(type="wecom", url={"value": "https://qyapi.weixin.qq.com/cgi-bin/"
                                           "webhook/send?key=K"}).request(MSG)
    assert url.endswith("send?key=K")
    assert body == {"msgtype": "markdown", "markdown": {"content": MSG.markdown}}


def test_wecom_mentions_need_a_text_message() -> None:
    _, body = _sender(type="wecom", url={"value": "https://h/send?key=K"},
                      at_mobiles=["13800000000"]).request(MSG)
    assert body["msgtype"] == "text"
    assert body["text"]["mentioned_mobile_list"] == ["13800000000"]
    assert body["text"]["content"].startswith(MSG.title)


def test_dingtalk_markdown_signed_as_documented() -> None:
    secret = "SEC0123456789abcdef"
    url, body = _sender(type="dingtalk", url={"value": "https://oapi.dingtalk.com/robot/send"
                                              "?access_token=T"}, secret={"value": secret},
                        at_mobiles=["13900000000"]).request(MSG, now_ms=1_600_000_000_000)
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
    assert query["access_token"] == "T" and query["timestamp"] == "1600000000000"
    # the documented recipe, computed here on its own: base64(HmacSHA256(secret, ts\nsecret))
    mac = hmac.new(secret.encode(), f"1600000000000\n{secret}".encode(), hashlib.sha256)
    expected = base64.b64encode(mac.digest()).decode()
    assert query["sign"] == expected
    assert url.split("&sign=")[1] == urllib.parse.quote_plus(expected)  # sent URL-encoded
    assert body["msgtype"] == "markdown" and body["markdown"]["title"] == MSG.title
    assert body["markdown"]["text"].endswith(" @13900000000")  # a mention shows only so
    assert body["at"] == {"atMobiles": ["13900000000"], "isAtAll": False}


def test_webhook_carries_the_events_as_data() -> None:
    _, body = _sender(type="webhook", url={"value": "http://127.0.0.1:1/hook"}).request(MSG)
    assert body == {"version": 1, "title": MSG.title, "text": MSG.markdown,
                    "events": [{"id": 1}]}


def test_a_signing_secret_is_a_dingtalk_option_and_urls_must_be_http() -> None:
    with pytest.raises(ValueError, match="dingtalk option"):
        Channel.model_validate({"id": "c", "type": "wecom", "url": {"value": "https://h"},
                                "secret": {"value": "s"}})
    with pytest.raises(NotifyError, match="channel c: url") as e:
        _sender(type="webhook", url={"value": "ftp://host/token-SECRET"})
    assert "SECRET" not in str(e.value)  # a robot URL is a secret


def test_fit_cuts_whole_lines_to_the_byte_limit() -> None:
    text = "\n".join(f"- 第{i}条告警 inv-{i:02d}" for i in range(400))
    cut = fit(text, 4096)
    assert len(cut.encode()) <= 4096 and cut.endswith("\n…")
    assert all(line in text.split("\n") for line in cut.split("\n")[:-1])
