"""One router per resource of the API; each reads the app's Services from ``app.state``.

The recommendations route is made per app (its ``count`` limit is a setting of
the server): :func:`recommendations.router`.
"""

from lumos.serve._routers import cohorts, events, insights, offers, recommendations, status

RESOURCES = (status, events, insights, offers, cohorts)

__all__ = ["RESOURCES", "recommendations"]
