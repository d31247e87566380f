"""The notify feature, as the composition root sees it: everything it brings, declared once."""

from command_center.features import Feature
from processors.notify import routes
from processors.notify.config import NotifySettings
from processors.notify.processor import NOTIFY

FEATURE = Feature(name="notify", settings=NotifySettings, processors=(NOTIFY,), routes=(routes.routes,))
