"""Discovery cohorts: first-pass rankers as plugins, a second-pass ranker, decoration, pages.

See :mod:`lumos.serve.cohorts._midtier` for the flow and
:mod:`lumos.serve.cohorts._config` for the config.
"""

from lumos.serve.cohorts._config import CohortsConfig, load_config, parse_config
from lumos.serve.cohorts._decorate import Catalogs, Decorator, entity_tables
from lumos.serve.cohorts._plugin import (
    DiscoveryResult,
    FirstPassRanker,
    MemberContext,
    PluginPool,
    RestRanker,
)
from lumos.serve.cohorts._rank import Engagement, RelevanceRanker, RuleRanker
from lumos.serve.cohorts._workflow import Operator, Outcome, Workflow

__all__ = [
    "DEMO_COHORTS",
    "Catalogs",
    "CohortService",
    "CohortsConfig",
    "Decorator",
    "DiscoveryResult",
    "Engagement",
    "FirstPassRanker",
    "MemberContext",
    "Operator",
    "Outcome",
    "PageError",
    "PluginPool",
    "RelevanceRanker",
    "RestRanker",
    "RuleRanker",
    "Workflow",
    "downstream_services",
    "entity_tables",
    "fpr_service_app",
    "load_config",
    "parse_config",
    "write_demo_configs",
]

from lumos.serve.cohorts._demo import DEMO_COHORTS, downstream_services, write_demo_configs
from lumos.serve.cohorts._midtier import CohortService, PageError
from lumos.serve.cohorts._service import fpr_service_app
