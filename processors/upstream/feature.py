"""The upstream feature, as the composition root sees it: everything it brings, declared once."""

from command_center.features import Feature
from processors.upstream import routes
from processors.upstream.config import UpstreamSettings
from processors.upstream.processor import UPSTREAM

FEATURE = Feature(name="upstream", settings=UpstreamSettings, processors=(UPSTREAM,), routes=(routes.routes,))
