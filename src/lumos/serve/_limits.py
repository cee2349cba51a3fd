"""Every bound the server holds a request to, in one place.

The routes declare their parameters with these numbers, the recommendations
fast path reads them back from the routes (so the two never disagree), and
the access guard caps bodies with them before a route reads a byte.
"""

from __future__ import annotations

#: The longest id a path or query may carry: a member, account, cohort or item id.
ID = 256
#: A short word of a page's form: a sort column, an order, a class, a number typed in.
SHORT = 32
#: A locale such as ``en`` or ``fr-FR``.
LOCALE = 16
#: A channel such as ``email``.
CHANNEL = 64
#: A page token minted by the cohorts mid-tier.
TOKEN = 512
#: The comma-separated skills of an onboarding request.
SKILLS = 512
#: The deepest start of a page of a member's list.
MAX_START = 10_000
#: Bytes of a ``POST /v1/events`` body, unless the server is configured otherwise.
EVENTS_BODY = 1_000_000
#: Bytes of any other body (an offer decision has none; the sign-in form a key).
OTHER_BODY = 16_384
