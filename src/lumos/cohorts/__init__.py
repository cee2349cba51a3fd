"""Discovery cohorts: first-pass rankers as plugins, a second-pass ranker, decoration, pages.

See :mod:`lumos.cohorts._midtier` for the flow and
:mod:`lumos.cohorts._config` for the config.
"""

from lumos.cohorts._config import CohortsConfig, load_config, parse_config
from lumos.cohorts._decorate import Catalogs, Decorator, entity_tables
from lumos.cohorts._plugin import (
    DiscoveryResult,
    FirstPassRanker,
    MemberContext,
    PluginPool,
    RestRanker,
)
from lumos.cohorts._rank import Engagement, RelevanceRanker, RuleRanker
from lumos.cohorts._workflow import Operator, Outcome, Workflow

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
    "member_features",
    "parse_config",
    "ranker_service",
    "write_demo_configs",
]

from lumos.cohorts._demo import DEMO_COHORTS, downstream_services, write_demo_configs
from lumos.cohorts._midtier import CohortService, PageError, member_features
from lumos.cohorts._service import fpr_service_app, ranker_service
