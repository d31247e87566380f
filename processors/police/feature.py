"""The police feature, as the composition root sees it: everything it brings, declared once."""

from command_center.features import Feature
from processors.police.config import PoliceSettings
from processors.police.processor import POLICE

FEATURE = Feature(name="police", settings=PoliceSettings, processors=(POLICE,))
