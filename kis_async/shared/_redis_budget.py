"""A rate budget in Redis, shared by every process on every host using one app key.

The pacing rule (``_pacing.py``) runs as one Lua script inside Redis, so each
reservation reads and updates the shared state atomically, and it reads the time with
Redis's ``TIME``: hosts whose clocks disagree still agree on the schedule, because no
host's clock enters it. A host only measures how long to sleep until its slot, which
needs no agreement between clocks.

If Redis cannot be reached, requests go on at a conservative local pace (a quarter
of the limit unless told otherwise), with one warning; the budget tries Redis again
every second and shares again as soon as it answers.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from kis_async._redact import get_logger

from ._budget import DEFAULT_QUEUE_TIMEOUT, ProcessBudget, _PacedBudget
from ._pacing import Decision, Outcome, Pacing, PacingState
from ._redis import connect, redis_errors, require_redis, safe_url

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.commands.core import AsyncScript

__all__ = ["RedisBudget"]

logger = get_logger("kis_async.shared")

# KEYS[1]: the state hash. ARGV: op ("reserve" | "limited"), limit, headroom, horizon,
# max_wait (-1: none), cooldown, decrease, recovery, floor, hold, ttl (ms), burst.
# Returns {outcome, wait, rate, limited, decreases, slot time}, numbers as strings (Redis would
# truncate Lua numbers to integers).
_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local op = ARGV[1]
local limit = tonumber(ARGV[2])
local headroom = tonumber(ARGV[3])
local horizon = tonumber(ARGV[4])
local max_wait = tonumber(ARGV[5])
local cooldown = tonumber(ARGV[6])
local decrease = tonumber(ARGV[7])
local recovery = tonumber(ARGV[8])
local floor = tonumber(ARGV[9])
local hold = tonumber(ARGV[10])
local ttl = tonumber(ARGV[11])
local burst = tonumber(ARGV[12])
local s = redis.call('HMGET', KEYS[1], 'tat', 'rate', 'since', 'dec_at', 'limited', 'decreases')
local tat = tonumber(s[1]) or 0
local rate = tonumber(s[2]) or 0
local since = tonumber(s[3]) or now
local dec_at = tonumber(s[4])
local limited = tonumber(s[5]) or 0
local decreases = tonumber(s[6]) or 0
if rate <= 0 then
  rate = limit
else
  rate = math.min(limit, rate + recovery * math.max(0, now - since))
end
local function spacing(r)
  local interval = 1 / (r * (1 - headroom))
  return interval, burst * interval
end
if op == 'reserve' then
  local interval, tolerance = spacing(rate)
  local start = math.max(tat, now)
  local wait = math.max(0, start - tolerance - now)
  local outcome = 'granted'
  if max_wait >= 0 and wait > max_wait then
    outcome = 'refused'
  elseif wait > horizon then
    outcome = 'later'
  else
    redis.call('HSET', KEYS[1], 'tat', tostring(start + interval), 'rate', tostring(rate),
               'since', tostring(now))
    redis.call('PEXPIRE', KEYS[1], ttl)
  end
  return {outcome, tostring(wait), tostring(rate), tostring(limited), tostring(decreases),
          tostring(now + wait)}
end
if dec_at == nil or now - dec_at >= hold then
  rate = math.max(floor, rate * decrease)
  dec_at = now
  decreases = decreases + 1
end
limited = limited + 1
local _, tolerance = spacing(rate)
tat = math.max(tat, now + cooldown + tolerance)
redis.call('HSET', KEYS[1], 'tat', tostring(tat), 'rate', tostring(rate), 'since', tostring(now),
           'dec_at', tostring(dec_at), 'limited', tostring(limited),
           'decreases', tostring(decreases))
redis.call('PEXPIRE', KEYS[1], ttl)
return {'limited', '0', tostring(rate), tostring(limited), tostring(decreases), tostring(now)}
"""

#: The state outlives idle periods this long (ms); a fresh state is a full budget.
_STATE_TTL_MS = 10 * 60 * 1000
#: Seconds between attempts to reach Redis again while on the local pace.
_RETRY_INTERVAL = 1.0


class RedisBudget(_PacedBudget):
    """A budget in Redis at ``url`` (``redis://host:6379/0``), under ``<prefix>:<key>``.

    ``fallback_share`` is the fraction of the limit this process uses on its own while
    Redis is unreachable (default a quarter: safe for up to four processes on the key).
    """

    backend = "redis"

    def __init__(
        self,
        url: str,
        key: str,
        pacing: Pacing,
        *,
        queue_timeout: float | None = DEFAULT_QUEUE_TIMEOUT,
        prefix: str = "kis-async:budget",
        fallback_share: float = 0.25,
    ) -> None:
        super().__init__(pacing, queue_timeout=queue_timeout)
        if not 0 < fallback_share <= 1:
            raise ValueError(f"fallback_share must be in (0, 1], got {fallback_share}")
        require_redis()
        self.url = url
        self.key = f"{prefix}:{key}"
        fallback = Pacing(
            pacing.limit * fallback_share,
            headroom=pacing.headroom,
            cooldown=pacing.cooldown,
            decrease=pacing.decrease,
            hold=pacing.hold,
        )
        self._fallback = ProcessBudget(fallback, queue_timeout=None)
        self._redis: Redis | None = None
        self._script: AsyncScript | None = None
        self._retry_at = 0.0

    def _client(self) -> tuple[Redis, AsyncScript]:
        if self._redis is None or self._script is None:
            self._redis = connect(self.url)
            self._script = self._redis.register_script(_SCRIPT)
        return self._redis, self._script

    def _args(self, op: str, max_wait: float | None) -> list[Any]:
        p = self.pacing
        return [
            op,
            repr(p.limit),
            repr(p.headroom),
            repr(p.horizon),
            repr(-1.0 if max_wait is None else max_wait),
            repr(p.cooldown),
            repr(p.decrease),
            repr(p.recovery_rate),
            repr(p.floor_rate),
            repr(p.hold),
            _STATE_TTL_MS,
            repr(p.burst),
        ]

    async def _eval(self, op: str, max_wait: float | None) -> list[str] | None:
        """Run the script; None while Redis is unreachable (then the local pace applies)."""
        if self.stats.fallback and time.monotonic() < self._retry_at:
            return None
        _, script = self._client()
        try:
            raw = await script(keys=[self.key], args=self._args(op, max_wait))
        except redis_errors() as exc:
            self._retry_at = time.monotonic() + _RETRY_INTERVAL
            if not self.stats.fallback:
                self.stats.fallback = True
                self.stats.outages += 1
                logger.warning(
                    "Redis at %s is unreachable (%s): pacing this process alone at %.3g "
                    "req/s until it answers again",
                    safe_url(self.url),
                    type(exc).__name__,
                    self._fallback.pacing.limit,
                )
            return None
        if self.stats.fallback:
            self.stats.fallback = False
            logger.info("Redis at %s answers again: the rate budget is shared", safe_url(self.url))
        return [item.decode() if isinstance(item, bytes) else str(item) for item in raw]

    async def _reserve(self, max_wait: float | None) -> Decision:
        reply = await self._eval("reserve", max_wait)
        if reply is None:
            return await self._fallback_reserve(max_wait)
        outcome, wait, rate, limited, decreases, at = reply
        decision = Decision(Outcome(outcome), float(wait), float(rate), float(at))
        self._note(
            PacingState(limited=int(float(limited)), decreases=int(float(decreases))), decision.rate
        )
        return decision

    async def _fallback_reserve(self, max_wait: float | None) -> Decision:
        decision = await self._fallback._reserve(max_wait)
        # Ask again (and so try Redis again) rather than wait long on the local pace.
        if decision.outcome is Outcome.LATER:
            return decision
        if decision.outcome is Outcome.GRANTED:
            self.stats.fallback_acquired += 1
        return decision

    async def _limited(self) -> None:
        reply = await self._eval("limited", None)
        if reply is None:
            await self._fallback._limited()
            self.stats.rate = self._fallback.stats.rate
            return
        _, _, rate, limited, decreases, _ = reply
        self._note(
            PacingState(limited=int(float(limited)), decreases=int(float(decreases))), float(rate)
        )

    async def aclose(self) -> None:
        """Close the Redis connection this budget opened."""
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None
            self._script = None

    def __repr__(self) -> str:
        return f"RedisBudget({safe_url(self.url)!r}, limit={self.pacing.limit:g}/s)"
