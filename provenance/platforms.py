"""Platform names normalised: one vocabulary for yt-dlp extractors, URLs and what users type.

``PLATFORMS`` is the vocabulary a sighting's ``platform`` holds. ``normalise`` maps, case-insensitively:

- a vocabulary word or a common alias typed as an option (``YouTube``, ``yt``, ``twitter``, ``X``,
  ``tg``, ``fb``, ``ig``, ``VKontakte``...);
- a yt-dlp extractor name, as an ``.info.json`` gives it in ``extractor_key`` (``Youtube``,
  ``YoutubeTab``, ``TwitterBroadcast``, ``FacebookReel``, ``TikTokUser``, ``VKWallPost``,
  ``TelegramEmbed``, ``Generic``) or ``extractor`` (``youtube:tab``, ``vm.tiktok``, ``generic``): the
  families are matched by prefix, so extractors yt-dlp adds later fall in place;
- a URL, or a bare host name, of a known platform (``https://youtu.be/...``, ``x.com``, ``t.me/...``,
  ``fb.watch``, ``vk.com``), subdomains included (``m.youtube.com``, ``vm.tiktok.com``).

``web`` is a page or file on the open web that no platform hosts: yt-dlp's generic extractor (a page
or a direct file link), a web archive (``warc``, ``wacz``), or ``web`` itself. Anything else (a
platform outside the vocabulary such as ``Rumble``, or a URL of an unknown host) normalises to
None with the raw value kept: an unknown named platform is not "web", and a host we do not know
may well be a platform. ``normalise`` never raises.

A sighting keeps what the source said in ``platform_raw`` when it says more than the platform word
(``kept_raw``): ``Youtube`` or ``Rumble`` are kept, ``--platform youtube`` is not repeated there.
``normalised_sighting`` applies both to a sighting given by hand (``archive add --platform``).
"""

from __future__ import annotations

import re
from dataclasses import replace
from urllib.parse import urlsplit

from provenance.model import Sighting

PLATFORMS = ("youtube", "x", "telegram", "tiktok", "facebook", "instagram", "vk", "web")
"""The platform vocabulary, as ``Sighting.platform`` holds it."""

_ALIASES: dict[str, str | None] = {
    **{word: word for word in PLATFORMS},
    "yt": "youtube", "you tube": "youtube", "youtube shorts": "youtube", "shorts": "youtube",
    "twitter": "x", "x (twitter)": "x", "x/twitter": "x", "twitter/x": "x",
    "tg": "telegram", "telegram channel": "telegram", "телеграм": "telegram", "телеграмм": "telegram",
    "tik tok": "tiktok", "douyin": None,  # Douyin is TikTok's Chinese sister app, a platform of its own
    "fb": "facebook",
    "ig": "instagram", "insta": "instagram",
    "vkontakte": "vk", "вконтакте": "vk", "вк": "vk", "vk video": "vk", "vkvideo": "vk",
    "generic": "web", "website": "web", "web page": "web", "webpage": "web", "www": "web",
    "warc": "web", "wacz": "web", "web archive": "web",
    # yt-dlp extractor names that do not start with their family's name
    "vm.tiktok": "tiktok", "web.archive:youtube": "youtube",
}

_EXTRACTOR_FAMILIES = (
    ("youtube", "youtube"), ("twitter", "x"), ("telegram", "telegram"), ("tiktok", "tiktok"),
    ("facebook", "facebook"), ("instagram", "instagram"), ("vk", "vk"), ("generic", "web"),
)
"""yt-dlp extractor name prefixes (lower case, before any ``:``) and their platform. Checked against
yt-dlp 2026.10: no other extractor starts with these (``Twitch``, ``Telegraaf``, ``XHamster`` do not)."""

_HOSTS = {
    "youtube.com": "youtube", "youtu.be": "youtube", "youtube-nocookie.com": "youtube", "ytimg.com": "youtube",
    "googlevideo.com": "youtube",
    "twitter.com": "x", "x.com": "x", "t.co": "x", "twimg.com": "x",
    "t.me": "telegram", "telegram.me": "telegram", "telegram.dog": "telegram", "telegram.org": "telegram",
    "telesco.pe": "telegram",
    "tiktok.com": "tiktok", "tiktokcdn.com": "tiktok",
    "facebook.com": "facebook", "fb.com": "facebook", "fb.watch": "facebook", "fbcdn.net": "facebook",
    "instagram.com": "instagram", "instagr.am": "instagram", "cdninstagram.com": "instagram",
    "vk.com": "vk", "vk.ru": "vk", "vk.me": "vk", "vkvideo.ru": "vk", "userapi.com": "vk",
}
"""Registered domains of each platform; their subdomains count too."""

_SPACES = re.compile(r"\s+")
_HOST_LIKE = re.compile(r"^(?:[a-z][a-z0-9+.-]*:)?//|^[^\s/:]+\.[a-z]{2,}(?:[/:?#]|$)")


def _from_host(text: str) -> str | None:
    """The platform of a URL or bare host name, or None when the host is not a known platform's."""
    try:
        host = urlsplit(text if "//" in text else f"//{text}").hostname
    except ValueError:  # e.g. an unclosed IPv6 bracket
        return None
    if not host:
        return None
    host = host.rstrip(".")
    parts = host.split(".")
    for start in range(len(parts) - 1):
        if (found := _HOSTS.get(".".join(parts[start:]))) is not None:
            return found
    return None


def _from_extractor(key: str) -> str | None:
    family = key.split(":", 1)[0]
    for prefix, platform in _EXTRACTOR_FAMILIES:
        if family.startswith(prefix):
            return platform
    return None


def normalise(raw: str | None) -> tuple[str | None, str | None]:
    """``(platform, raw)``: the vocabulary word for ``raw`` (None when it is not known), and ``raw`` as given.

    ``raw`` comes back stripped of surrounding white space, or None when it is None or blank. The
    platform is one of ``PLATFORMS`` or None; every vocabulary word normalises to itself.
    """
    if raw is None or not isinstance(raw, str):
        return None, None
    given = raw.strip()
    if not given:
        return None, None
    key = _SPACES.sub(" ", given.casefold())
    if key in _ALIASES:
        return _ALIASES[key], given
    if _HOST_LIKE.search(key):
        return _from_host(key), given
    return _from_extractor(key), given


def kept_raw(platform: str | None, raw: str | None) -> str | None:
    """What ``platform_raw`` keeps of ``normalise``'s answer: ``raw``, unless it is the platform word itself.

    ``--platform youtube`` says no more than ``platform``; ``Youtube``, ``youtube:tab`` or ``Rumble`` do.
    """
    return None if raw == platform else raw


def normalised_sighting(sighting: Sighting) -> Sighting:
    """``sighting`` with its ``platform`` normalised, the value it had kept in ``platform_raw`` (unless set).

    A sighting whose platform is already a vocabulary word is returned as it is, as is one without
    a platform.
    """
    if sighting.platform is None:
        return sighting
    platform, raw = normalise(sighting.platform)
    return replace(sighting, platform=platform, platform_raw=sighting.platform_raw or kept_raw(platform, raw))
