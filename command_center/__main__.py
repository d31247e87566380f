"""`python -m command_center`: runs the installed application, the one the `command-center` entry point names
(the composition root); the kernel itself knows no feature."""

from importlib.metadata import entry_points

(script,) = entry_points(group="console_scripts", name="command-center")
raise SystemExit(script.load()())
