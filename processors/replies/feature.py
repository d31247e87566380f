"""The replies feature, as the composition root sees it: everything it brings, declared once."""

from command_center.features import Feature
from processors.replies.config import RepliesSettings
from processors.replies.processor import REPLIES_PROCESSOR

FEATURE = Feature(name="replies", settings=RepliesSettings, processors=(REPLIES_PROCESSOR,))
