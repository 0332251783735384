"""What the DingTalk and Feishu OpenAPI clients share: one aiohttp session, and an access token fetched once
and renewed 5 minutes before it expires (or at once, when the messenger says it went stale)."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod

import aiohttp

RENEW_BEFORE = 300  # seconds before its expiry a token is fetched anew


class TokenedApi(ABC):
    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None
        self._token: tuple[str, float] | None = None  # the token, and when (time.monotonic) to renew it

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15))
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def token(self) -> str:
        if self._token is None or time.monotonic() >= self._token[1]:
            token, lifetime = await self._fetch_token()
            self._token = (token, time.monotonic() + lifetime - RENEW_BEFORE)
        return self._token[0]

    def forget_token(self) -> None:
        """The messenger refused the token (expired or revoked): the next call fetches a new one."""
        self._token = None

    @abstractmethod
    async def _fetch_token(self) -> tuple[str, int]:
        """A new token and its lifetime in seconds."""
