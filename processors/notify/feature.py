"""The notify feature, as the composition root sees it: everything it brings, declared once."""

from command_center.features import Feature
from processors.notify.processor import NOTIFY

FEATURE = Feature(name="notify", processors=(NOTIFY,))
