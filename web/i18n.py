"""One message catalog for the page: Chinese by default, English on request.

``web/messages.yaml`` maps each key to its ``zh`` and ``en`` text (a test checks both are
there for every key a template or a handler uses). Alarm names and actions are not repeated
here: they come from the alarm catalogs (config/profiles/alarms/, ``name_zh`` and ``name``),
as stored with each alarm. The language is the ``lang`` cookie, set by ``?lang=en``.
"""

from __future__ import annotations

import functools
from pathlib import Path

from config.errors import ConfigError
from config.yaml_loader import load_yaml

LANGS = ("zh", "en")
DEFAULT = "zh"
CATALOG = Path(__file__).with_name("messages.yaml")


@functools.cache
def catalog() -> dict[str, dict[str, str]]:
    data, _ = load_yaml(CATALOG)
    if not isinstance(data, dict):
        raise ConfigError(f"{CATALOG}: expected a mapping of keys to {{zh, en}}")
    for key, texts in data.items():
        if not isinstance(texts, dict) or set(texts) != set(LANGS) or \
                not all(isinstance(v, str) for v in texts.values()):
            raise ConfigError(f"{CATALOG}: {key}: give exactly zh and en, as text (quote "
                              "words YAML reads otherwise, such as off)")
    return data


def pick(lang: str | None) -> str:
    return lang if lang in LANGS else DEFAULT


def translate(lang: str, key: str, **values: object) -> str:
    """The text of ``key`` in ``lang``; ``{name}`` placeholders filled from ``values``."""
    text = catalog()[key][lang]  # a KeyError is a bug: the test of the catalog finds it
    return text.format(**values) if values else text


class Translator:
    def __init__(self, lang: str) -> None:
        self.lang = pick(lang)

    def __call__(self, key: str, **values: object) -> str:
        return translate(self.lang, key, **values)

    def maybe(self, key: str, fallback: str) -> str:
        """For keys made from data (a device status): the data itself if none is listed."""
        texts = catalog().get(key)
        return texts[self.lang] if texts else fallback
