"""``rbm resources`` lives in robustbench_match.commands.resources; this name is kept for imports."""
from ..commands.resources import *  # noqa: F401,F403
from ..commands.resources import HELP, add_arguments, run  # noqa: F401
